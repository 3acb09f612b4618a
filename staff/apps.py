from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class StaffConfig(AppConfig):
    name = "staff"
    verbose_name = "Staff workspace"
    default = True


class StaffAdminConfig(admin_apps.AdminConfig):
    """The Django admin, on a site that needs a verified second factor for every page."""

    default = False
    default_site = "staff.admin_site.StaffAdminSite"
