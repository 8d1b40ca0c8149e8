"""落户助手: answers whether a certificate counts for Shanghai 积分 or 居转户 (2023 catalogues)."""

__version__ = "0.1.0"
