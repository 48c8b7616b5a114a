"""What the API reads and accepts, one module per topic (sources, inventory, posture, controls,
exceptions, reviews, evidence). Output serializers describe stored metadata (never a secret's
value); input serializers check shapes only — what is valid is the services' to say, exactly
as for the UI's forms."""
