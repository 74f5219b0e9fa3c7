from django import template

register = template.Library()


@register.simple_tag
def unread_count(user) -> int:
    """Unread 站内信 for the header; one indexed count."""
    if not getattr(user, "is_authenticated", False):
        return 0
    return user.inbox.filter(read_at__isnull=True).count()
