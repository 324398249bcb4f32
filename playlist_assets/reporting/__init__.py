"""Markdown and PNG rendering of playlist cluster reports. Plain data in, text or bytes out."""
