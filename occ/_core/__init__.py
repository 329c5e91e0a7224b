"""The sans-IO core: model, steps, flows, version schemes, retry policy.

Nothing here imports a database driver or asyncio (a test enforces it).
"""
