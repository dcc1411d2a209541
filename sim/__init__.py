"""Simulated hardware: an R30x module (on a pty or an in-memory link) and a simulated Pi."""
