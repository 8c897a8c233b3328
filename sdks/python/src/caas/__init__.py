"""CAAS client: ``caas.Client`` (stubs on the gateway, bearer token, typed errors),
``caas.SessionTokens`` (refreshing tokens), ``caas.CaasError``; generated messages and stubs
under ``caas.<domain>.v1``."""

from caas.client import Client, RealtimeSession, SessionTokens
from caas.errors import CaasError, FieldViolation

__all__ = ["Client", "RealtimeSession", "SessionTokens", "CaasError", "FieldViolation"]
