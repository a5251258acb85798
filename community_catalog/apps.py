from django.apps import AppConfig


class CommunityCatalogConfig(AppConfig):
    name = "community_catalog"
    verbose_name = "Community catalogue"
