from django.shortcuts import render

from core.roles import admin_required


@admin_required
def network_list(request):
    # The registry of trained networks arrives with the classifier issue;
    # until then the page says so rather than pretend.
    return render(request, "classifier/network_list.html", {"networks": []})
