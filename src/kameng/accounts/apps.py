from django.apps import AppConfig
from django.db.models.signals import post_save, pre_delete


def _user_changed(sender, instance, created=False, **kwargs):
    """Any save of a user (a password set in the admin or `changepassword`, deactivation, a new role) ends
    the cached copies of its tokens everywhere: the next request reads the user from the database.

    A signal, against the codebase's habit, because these writes come from Django itself (admin, auth
    commands), not only from kameng's services; the token's password stamp still guards the database path.
    """
    if created:
        return  # no token yet
    from .token_cache import forget_user

    forget_user(instance.pk)


class AccountsConfig(AppConfig):
    name = "kameng.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from .models import User

        post_save.connect(_user_changed, sender=User, dispatch_uid="kameng.accounts.user_changed")
        # Before the delete: its tokens (deleted with it) must still be there to be named.
        pre_delete.connect(_user_changed, sender=User, dispatch_uid="kameng.accounts.user_deleted")
