from django import template

from core.logodds import format_p_lens

register = template.Library()


@register.filter
def get_item(mapping, key):
    """``{{ d|get_item:"accuracy_at_0.5" }}``: keys with dots or digits."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def p_lens(logit, digits=4):
    """``{{ score.logit|p_lens }}``: P(lens) from the stored log-odds, written
    so that probabilities that tie at 1.0 still read apart (``1 − 2.3e-08``);
    one format for every page (``core.logodds.format_p_lens``)."""
    return format_p_lens(logit, int(digits))
