"""GPIO edge: the only importer of RPi.GPIO, and the client of the simulated Pi's hub."""
