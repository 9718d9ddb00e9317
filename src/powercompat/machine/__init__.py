"""State and effects: vCPUs, the pseries machine and its lifecycle, migration."""
