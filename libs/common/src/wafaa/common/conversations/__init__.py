"""Read interface of the rag service's conversations, and the live chat channel of the test chat."""

from wafaa.common.conversations.chat import ChatUpdate, chat_channel
from wafaa.common.conversations.reader import (
    ConversationFilter,
    ConversationReader,
    ConversationRow,
    MessageRow,
)

__all__ = ["ChatUpdate", "ConversationFilter", "ConversationReader", "ConversationRow", "MessageRow", "chat_channel"]
