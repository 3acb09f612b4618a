from django.shortcuts import render

from .models import Program


def home(request):
    programs = Program.objects.all()
    return render(request, "referrals/home.html", {"programs": programs})
