"""Human-readable reports: the self-contained HTML run report and its building blocks."""
