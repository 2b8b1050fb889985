"""Async client for the OpenAI HTTP API and OpenAI-compatible servers."""
