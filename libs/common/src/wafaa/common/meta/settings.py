"""Where the Graph APIs are and how patiently we talk to them (point them at a local server offline)."""

from pydantic import BaseModel


class MetaApiSettings(BaseModel):
    """Mixed into the settings of every service that calls Meta."""

    whatsapp_api_base_url: str = "https://graph.facebook.com"
    instagram_api_base_url: str = "https://graph.instagram.com"
    meta_api_version: str = "v23.0"
    graph_timeout_seconds: float = 10.0
    graph_max_attempts: int = 5
    graph_backoff_initial_seconds: float = 0.5
    graph_backoff_max_seconds: float = 20.0
