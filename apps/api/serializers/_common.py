"""What every topic's serializers share: a related object named by a text key, a read-only
JSON object, a username, and the small inputs more than one endpoint accepts."""

from __future__ import annotations

from rest_framework import serializers


class SlugField(serializers.SlugRelatedField):
    """A related object named by a text key (a username, a requirement's ref). Text the database
    cannot hold (a NUL character) names nothing: refused like any unknown name."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value="(contains a NUL character)")
        return super().to_internal_value(data)


JSON_OBJECT = serializers.DictField(child=serializers.JSONField(), read_only=True)


def username(field: str = "") -> serializers.CharField:
    """A read-only username: of the related user ``field``, or of the object itself."""
    return serializers.CharField(source=f"{field}.username" if field else "username", read_only=True, allow_null=True, default=None)


class TagSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=128)
    value = serializers.CharField(max_length=256)


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=20000, allow_blank=True, required=False, default="")
