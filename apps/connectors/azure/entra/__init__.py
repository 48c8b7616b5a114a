"""Entra ID (Microsoft Graph): application and service principal credentials. See ADR 0012."""
