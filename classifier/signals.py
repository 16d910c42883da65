def register_shipped_networks(sender, **kwargs):
    """After migrate: the networks shipped with the code are in the registry."""
    from classifier.services import register_shipped

    register_shipped()
