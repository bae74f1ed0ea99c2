"""``wgan play`` and ``wgan watch``: the toy sets trained live in the browser, and a run folder followed live.

settings (what a panel may change) -> panel (a Trainer and its frames) -> stage (the thread that trains a page's
panels) -> protocol (the page's messages, checked) -> server (Starlette on uvicorn); watch follows a run folder.
"""
