"""The simulated Pi: the GPIO hub, its own process owning the pin levels, with the Pi's
power-on defaults, the firmware ``gpio=`` lines and the kernel's line-release rule.
"""
