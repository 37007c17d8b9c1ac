"""Request bodies of the v2 API as pydantic models: validation and the OpenAPI document."""
