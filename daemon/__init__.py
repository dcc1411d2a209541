"""doorward's door controller. Importing this package imports nothing else."""
