from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    """``{{ d|get_item:"accuracy_at_0.5" }}``: keys with dots or digits."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None
