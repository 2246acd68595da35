"""The HTTP entry point: a FastAPI app (`create_app`) that translates requests into service calls.

Webhooks are its first routes (docs/webhooks.md); later routers join the same app. Routes hold no
queries and no business rules: they check what only HTTP knows (signatures, the shape of a body)
and call services.
"""
