"""Human-readable reports: the self-contained HTML run report (building blocks: :mod:`modelway.html_blocks`)."""
