"""The module library: the slot map (which page holds which finger, in which state), the pure
reconcile planner, and the reconcile steps that carry the plan out on the module.

``slotmap`` and ``plan`` are pure; ``reconcile`` drives the module client it is handed and
never opens a port itself. Imports no controller, sync or runtime module.
"""
