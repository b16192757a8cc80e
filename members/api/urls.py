from django.urls import path

from members.api import views

urlpatterns = [
    path("members", views.MemberDirectoryView.as_view(), name="member-list"),
    path("members/me", views.MeView.as_view(), name="member-me"),
    path("members/me/keys", views.KeyListView.as_view(), name="member-key-list"),
    path("members/me/keys/<str:kid>", views.KeyDetailView.as_view(), name="member-key-detail"),
    path("members/me/tokens", views.TokenListView.as_view(), name="member-token-list"),
    path("members/me/tokens/<int:pk>", views.TokenDetailView.as_view(), name="member-token-detail"),
    path("members/me/users", views.UserListView.as_view(), name="member-user-list"),
    path("members/me/users/<str:username>", views.UserDetailView.as_view(), name="member-user-detail"),
    path("members/me/endpoints", views.EndpointListView.as_view(), name="member-endpoint-list"),
    path("members/me/endpoints/<int:pk>", views.EndpointDetailView.as_view(), name="member-endpoint-detail"),
    path("members/me/endpoints/<int:pk>/rotate-secret", views.EndpointRotateView.as_view(), name="member-endpoint-rotate"),
]
