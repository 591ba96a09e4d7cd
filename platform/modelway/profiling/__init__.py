"""Training-data profiles and the drift statistics that compare live data with them.

Below the stages (registration stores a version's baseline profile) and above nothing but
``errors``/``files``: the server, the deployer and the monitor all read the same profile.
"""
