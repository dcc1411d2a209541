"""The door's TOML configuration: the loader and its precise errors, and one module per
section (``[hardware]``, ``[module]`` and ``[server]``, ``[storage]``, ``[clock]``,
``[policy]``, ``[daemon]``).

Imports only the codec (for the policy defaults) and the standard library.
"""
