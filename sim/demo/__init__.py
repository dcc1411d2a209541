"""``doorward demo``: the whole site on simulated hardware, a scripted day on a timeline, and
an interactive mode with a small command language.
"""
