import pytest


@pytest.fixture
def data_dir(settings, tmp_path, db):
    """A private data dir and an empty registry (the shipped networks have their own tests)."""
    from classifier.models import Network

    settings.DATA_DIR = tmp_path
    Network.objects.all().delete()
    return tmp_path
