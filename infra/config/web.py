"""The web tier's settings: HTTPS (certificate, DNS name, TLS policy), the load balancer's idle
timeout, the WAF and the access logs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from infra import catalog
from infra.config.reader import PLACEHOLDER_ACCOUNT, ConfigError, ConfigReader

_ACM_ARN = re.compile(
    r"^arn:aws[a-z-]*:acm:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):certificate/(?P<id>[0-9a-f-]+)$"
)


@dataclass(frozen=True)
class WebConfig:
    certificate_arn: str | None
    require_https: bool
    domain_name: str | None
    ssl_policy: str
    idle_timeout_seconds: int
    waf_enabled: bool
    waf_rate_limit: int
    access_logs: bool
    access_logs_expire_days: int

    @property
    def https(self) -> bool:
        return self.certificate_arn is not None

    @classmethod
    def read(cls, r: ConfigReader, region: str) -> WebConfig:
        certificate_arn = r.string(
            "certificateArn", pattern=_ACM_ARN, expected="an ACM certificate ARN"
        )
        if certificate_arn and _ACM_ARN.match(certificate_arn)["region"] != region:
            r.fail(
                "certificateArn",
                f"a certificate in the stack's region {region} (an ALB can only use a "
                "certificate from its own region)",
                certificate_arn,
            )
        require_https = r.boolean("requireHttps", False)
        if require_https and certificate_arn is None:
            r.fail("certificateArn", "an ACM certificate ARN because requireHttps is true")
        domain_name = r.string("domainName")
        if certificate_arn and domain_name is None:
            # https://<the ALB's own DNS name> can never match an ACM certificate: clients and the
            # deploy's smoke check would refuse the TLS handshake.
            r.fail(
                "domainName",
                "the DNS name the certificate covers (pointed at the ALB) because certificateArn "
                "is set",
            )
        return cls(
            certificate_arn=certificate_arn,
            require_https=require_https,
            domain_name=domain_name,
            ssl_policy=r.listed(
                "sslPolicy",
                "ELBSecurityPolicy-TLS13-1-2-2021-06",
                catalog.ELB_SSL_POLICIES,
                "a predefined ALB security policy",
            ),
            idle_timeout_seconds=r.integer("idleTimeoutSeconds", 60, minimum=1, maximum=4000),
            waf_enabled=r.boolean("wafEnabled", False),
            waf_rate_limit=r.integer("wafRateLimit", 2000, minimum=10, maximum=2000000000),
            access_logs=r.boolean("albAccessLogs", False),
            access_logs_expire_days=r.integer(
                "albAccessLogsExpireDays", 90, minimum=1, maximum=3650
            ),
        )

    def refuse_placeholders(self, r: ConfigReader, region: str) -> None:
        """The committed example certificate is no certificate: a real run refuses it."""
        certificate = _ACM_ARN.match(self.certificate_arn or "")
        if certificate and (
            certificate["account"] == PLACEHOLDER_ACCOUNT or not certificate["id"].strip("0-")
        ):
            raise ConfigError(
                f"{r.project}:certificateArn in stack '{r.stack}': the committed placeholder "
                f"{self.certificate_arn!r} is not a certificate; request one in ACM "
                f"({region}) and run `pulumi config set {r.project}:certificateArn "
                f"<arn> --stack {r.stack}`"
            )
