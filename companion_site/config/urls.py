from django.urls import include, path

urlpatterns = [path("", include("demo.urls"))]

handler404 = "demo.views.pages.not_found"
handler500 = "demo.views.pages.server_error"
