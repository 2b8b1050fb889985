"""Sending to Discord: long text, edit scheduling, attachments, shared views."""
