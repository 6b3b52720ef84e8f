"""The contact policy: one stage that sees every chain's due steps and the content mailings, and decides per
customer what is sent, when, and in which variant, recording a reason for everything it holds back."""

from lifecycle.policy.stage import decide

__all__ = ["decide"]
