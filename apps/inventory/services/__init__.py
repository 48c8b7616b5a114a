"""Inventory state changes: sources (sources.py), collections (collection.py), and applying a
connector's result to the inventory (apply.py)."""
