import factory

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.services import user_role_assign


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-only")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        self.save()
        if create and extracted:
            from django.db import transaction

            with transaction.atomic():
                user_role_assign(user=self, role=extracted)


def make_user(role: str | None, **kwargs) -> User:
    return UserFactory(role=role, **kwargs)


ROLES = list(Role.values)
