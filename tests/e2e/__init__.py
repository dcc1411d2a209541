"""End-to-end tests: doorward's own commands as separate processes (doorward run, pair, server, demo, the installer, a browser), as a site runs them."""
