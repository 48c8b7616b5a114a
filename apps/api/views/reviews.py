"""The API's access-review endpoints: the same checks as apps/reviews/views.py, the same
selectors and the same services.

A campaign is visible to whoever sees it whole (``view_campaign``: the GRC lead; an auditor
it was shared with, once signed off) or reviews items in it (``review_campaign``, granted per
campaign when items are assigned), who then sees only their own items; anyone else gets 404.
Managing (create, start, sign off, cancel, reassign) takes ``manage_campaign`` (403 when the
campaign is visible); deciding and delegating take being a reviewer of the campaign (403).
The service checks again — a batch with another reviewer's item, or one about the actor's
own identity, is refused whole (403, nothing decided).
"""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import status as http
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.api.serializers._common import CommentSerializer
from apps.api.serializers.reviews import (
    CampaignCreateSerializer,
    CampaignDetailSerializer,
    CampaignSerializer,
    CountSerializer,
    ItemDecideSerializer,
    ItemsDecideSerializer,
    ItemsDelegateSerializer,
    ItemsReassignSerializer,
    RemediationSerializer,
    ReviewItemSerializer,
)
from apps.api.views._common import ID, get_or_404, paginated, query_filters, text_param, validated
from apps.audit.access import deny, require
from apps.reviews import selectors, services
from apps.reviews.models import Campaign, ReviewItem
from apps.reviews.population import is_own_identity

VIEW, MANAGE, REVIEW = selectors.VIEW, selectors.MANAGE, selectors.REVIEW


def _campaign_get(*, pk: int) -> Campaign:
    return Campaign.objects.select_related("fallback_reviewer", "created_by", "signed_off_by").get(pk=pk)


def _campaign_for(request, pk) -> tuple[Campaign, bool, bool]:
    """(campaign, sees all, reviews in it); 404 (recorded) when neither — as the campaign page."""
    campaign = get_or_404(_campaign_get, pk=int(pk))
    sees_all = selectors.can_view_campaign(user=request.user, campaign=campaign)
    reviews = selectors.can_review(user=request.user, campaign=campaign)
    if not (sees_all or reviews):
        deny(request, VIEW, campaign, hide=True)
    return campaign, sees_all, reviews


def _with_own(request, items):
    for item in items:
        item.is_own = is_own_identity(request.user, item.facts)
    return items


DECISION_FILTER = text_param("decision", "undecided, or a decision.", ["undecided", *ReviewItem.Decision.values])


class CampaignViewSet(viewsets.GenericViewSet):
    """Access-review campaigns you may see (whole, or your items in them)."""

    lookup_value_regex = r"\d+"

    def _detail(self, request, campaign, sees_all=None, reviews=None):
        if sees_all is None:
            sees_all = selectors.can_view_campaign(user=request.user, campaign=campaign)
            reviews = selectors.can_review(user=request.user, campaign=campaign)
        campaign = _campaign_get(pk=campaign.pk)
        campaign.sees_all, campaign.reviews = sees_all, reviews
        campaign.progress, campaign.decision_counts = selectors.campaign_progress(campaign=campaign) if sees_all else (None, None)
        return CampaignDetailSerializer(campaign).data

    def _manage(self, request, pk) -> Campaign:
        campaign, _, _ = _campaign_for(request, pk)
        require(request, MANAGE)
        return campaign

    def _reviewing(self, request, pk) -> Campaign:
        campaign, _, reviews = _campaign_for(request, pk)
        if not reviews:
            deny(request, REVIEW, campaign)
        return campaign

    @extend_schema(responses=CampaignSerializer(many=True))
    def list(self, request):
        return paginated(self, selectors.campaign_list(user=request.user), CampaignSerializer)

    @extend_schema(parameters=[ID], responses=CampaignDetailSerializer)
    def retrieve(self, request, pk=None):
        """The campaign; with decision counts and progress per reviewer for those who see it whole."""
        campaign, sees_all, reviews = _campaign_for(request, pk)
        return Response(self._detail(request, campaign, sees_all, reviews))

    @extend_schema(request=CampaignCreateSerializer, responses={201: CampaignDetailSerializer})
    def create(self, request):
        """A draft campaign (``start`` freezes its population)."""
        require(request, MANAGE)
        data = dict(validated(CampaignCreateSerializer, request))
        scope = dict(data.pop("scope") or {})
        if "tag" in scope:
            scope["tag"] = dict(scope["tag"])
        campaign = services.campaign_create(actor=request.user, scope=scope, **data)
        return Response(self._detail(request, campaign), status=http.HTTP_201_CREATED)

    @extend_schema(parameters=[ID], request=None, responses={202: CampaignDetailSerializer})
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        """Queue the start: a worker freezes the population (one item per credential in scope,
        each with its reviewer). Answers 202 at once with the campaign as it is now (``starting``,
        or already ``active``) and the URL to poll (``progress_url``, also in ``Location``)."""
        campaign = services.campaign_start_request(actor=request.user, campaign=self._manage(request, pk))
        campaign.refresh_from_db()
        url = reverse("api:campaign-detail", args=[campaign.pk])
        data = {**self._detail(request, campaign), "progress_url": url}
        return Response(data, status=http.HTTP_202_ACCEPTED, headers={"Location": url})

    @extend_schema(parameters=[ID], request=CommentSerializer, responses=CampaignDetailSerializer)
    @action(detail=True, methods=["post"], url_path="sign-off", url_name="signoff")
    def sign_off(self, request, pk=None):
        """Lock the decisions (every item decided, or the due date passed)."""
        campaign = self._manage(request, pk)
        comment = validated(CommentSerializer, request).get("comment", "")
        return Response(self._detail(request, services.campaign_sign_off(actor=request.user, campaign=campaign, comment=comment)))

    @extend_schema(parameters=[ID], request=CommentSerializer, responses=CampaignDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a draft or a campaign in review; the comment (why) is required."""
        campaign = self._manage(request, pk)
        comment = validated(CommentSerializer, request).get("comment", "")
        return Response(self._detail(request, services.campaign_cancel(actor=request.user, campaign=campaign, comment=comment)))

    @extend_schema(
        parameters=[
            ID,
            DECISION_FILTER,
            text_param("q", "Text in the item's subject."),
            text_param("reviewer", "me: only your items (those who see the whole campaign see every item otherwise).", ["me"]),
        ],
        responses=ReviewItemSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def items(self, request, pk=None):
        """The campaign's items: all of them for those who see it whole, otherwise only yours."""
        campaign, sees_all, _ = _campaign_for(request, pk)
        params = query_filters(request, ("decision", "q", "reviewer"))
        only_mine = not sees_all or params["reviewer"] == "me"
        qs = selectors.campaign_items(
            campaign=campaign, reviewer=request.user if only_mine else None, decision=params["decision"], q=params["q"]
        )
        page = _with_own(request, self.paginate_queryset(qs))
        return self.get_paginated_response(ReviewItemSerializer(page, many=True).data)

    @extend_schema(parameters=[ID], request=ItemsDecideSerializer, responses=CountSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """Decide many of your items at once with one justification (one service call). The whole
        batch is refused — nothing decided — if any item is not yours (403), about your own
        identity (403), already decided (409) or not in this campaign (400)."""
        campaign = self._reviewing(request, pk)
        d = validated(ItemsDecideSerializer, request)
        count = services.items_decide(
            actor=request.user, campaign=campaign, item_ids=d["items"], decision=d["decision"], justification=d["justification"]
        )
        return Response({"count": count})

    @extend_schema(parameters=[ID], request=ItemsDelegateSerializer, responses=CountSerializer)
    @action(detail=True, methods=["post"])
    def delegate(self, request, pk=None):
        """Hand some of your undecided items to someone else, with a note."""
        campaign = self._reviewing(request, pk)
        d = validated(ItemsDelegateSerializer, request)
        count = services.items_delegate(
            actor=request.user, campaign=campaign, item_ids=d["items"], to_reviewer=d["to_reviewer"], note=d["note"]
        )
        return Response({"count": count})

    @extend_schema(parameters=[ID], request=ItemsReassignSerializer, responses=CountSerializer)
    @action(detail=True, methods=["post"])
    def reassign(self, request, pk=None):
        """The GRC lead moves undecided items (the given ones, or all of ``from_reviewer``'s) to another reviewer."""
        campaign = self._manage(request, pk)
        d = validated(ItemsReassignSerializer, request)
        count = services.items_reassign(
            actor=request.user,
            campaign=campaign,
            to_reviewer=d["to_reviewer"],
            note=d["note"],
            item_ids=d.get("items") or None,
            from_reviewer=d.get("from_reviewer"),
        )
        return Response({"count": count})

    @extend_schema(parameters=[ID], responses=RemediationSerializer(many=True))
    @action(detail=True, methods=["get"])
    def remediation(self, request, pk=None):
        """What the revoke and rotate decisions oblige, each with its state history and the
        collection run that verified it. A reviewer sees the remediation of their own items."""
        campaign, sees_all, _ = _campaign_for(request, pk)
        qs = selectors.remediation_list(campaign=campaign)
        if not sees_all:
            qs = qs.filter(item__reviewer=request.user)
        return paginated(self, qs, RemediationSerializer)


class ReviewItemViewSet(viewsets.GenericViewSet):
    """One review item: visible to those who see its campaign whole, and to its reviewer."""

    lookup_value_regex = r"\d+"

    def _item(self, request, pk) -> tuple[ReviewItem, Campaign, bool]:
        item = get_or_404(lambda pk: ReviewItem.objects.select_related("reviewer", "decided_by").get(pk=pk), pk=int(pk))
        campaign, sees_all, reviews = _campaign_for(request, item.campaign_id)
        if not sees_all and item.reviewer_id != request.user.pk:
            deny(request, VIEW, item, hide=True)
        item.is_own = is_own_identity(request.user, item.facts)
        return item, campaign, reviews

    @extend_schema(parameters=[ID], responses=ReviewItemSerializer)
    def retrieve(self, request, pk=None):
        item, _, _ = self._item(request, pk)
        return Response(ReviewItemSerializer(item).data)

    @extend_schema(parameters=[ID], request=ItemDecideSerializer, responses=ReviewItemSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """Decide this item (yours, not about your own identity, undecided, campaign in review)."""
        item, campaign, reviews = self._item(request, pk)
        if not reviews:
            deny(request, REVIEW, campaign)
        d = validated(ItemDecideSerializer, request)
        services.items_decide(
            actor=request.user, campaign=campaign, item_ids=[item.pk], decision=d["decision"], justification=d["justification"]
        )
        item, _, _ = self._item(request, pk)
        return Response(ReviewItemSerializer(item).data)
