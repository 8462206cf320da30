"""The AWS side of the demo: data, table, workgroup, the service on Lambda with its roles, and
events to Restate."""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import jsii
from aws_cdk import (
    Aspects,
    CfnOutput,
    CfnResource,
    Duration,
    Environment,
    IAspect,
    RemovalPolicy,
    SecretValue,
    Stack,
)
from aws_cdk import aws_athena as athena
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.athena_events import event_states
from infra.aws import lambda_package
from infra.schema import DATA_DIR, ColumnType, TableSchema, load_schema

WORKGROUP_NAME = "demo-workgroup"
DATA_PREFIX = "data/"
RESULTS_PREFIX = "results/"
# Straight to the query's mailbox: EventBridge fills the `*` with the query's id.
EVENTS_HANDLER_PATH = "/completion/*/onEvent"
EVENTS_PATH_PARAMETERS = ["$.detail.queryExecutionId"]

# Schema column types are Hive types already; the map makes the Glue type explicit per type.
GLUE_TYPES: dict[ColumnType, str] = {
    "string": "string",
    "date": "date",
    "double": "double",
    "bigint": "bigint",
    "int": "int",
    "boolean": "boolean",
    "timestamp": "timestamp",
}

ATHENA_ACTIONS = [
    "athena:StartQueryExecution",
    "athena:GetQueryExecution",
    "athena:BatchGetQueryExecution",
    "athena:GetQueryResults",
    # A result by link counts its rows without reading them (Rows.OutputRows).
    "athena:GetQueryRuntimeStatistics",
    "athena:StopQueryExecution",
    "athena:GetWorkGroup",
]
GLUE_ACTIONS = ["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"]
# Bucket-level actions Athena needs for a results location (and to list the table's data).
BUCKET_ACTIONS = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
DATA_READ_ACTIONS = ["s3:GetObject"]
FUNCTION_NAME = "athena-promise"
DEFAULT_WEBHOOK_SECRET_NAME = "athena-promise/webhook-secret"
# Restate invokes published versions; it may invoke any version of this function.
INVOKE_ACTIONS = ["lambda:InvokeFunction"]
LOG_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]
RESULTS_ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
]


# checkov's findings on the synthesized template that are left on purpose, each with its reason,
# written into the resource's metadata (`checkov: skip:`) so that checkov reports them as
# skipped, with the reason, instead of failed. infra/aws/README.md explains each one.
DEMO_BUCKET_SKIPS = {
    "CKV_AWS_18": "Demo bucket: server access logs would need a second bucket; use CloudTrail "
    "data events where object access must be audited",
    "CKV_AWS_21": "Demo bucket: results expire after 7 days and data/ is copied from the "
    "repository on every deploy; versions would only keep what is meant to go",
}
DEAD_LETTER_QUEUE_SKIPS = {
    "CKV_AWS_27": "Encrypted with SQS-managed keys (SqsManagedSseEnabled); the check only "
    "recognises KmsMasterKeyId, and the AWS-managed KMS key cannot be granted to EventBridge",
}
# The Lambda functions (and log group) CDK adds for its own custom resources: they run only
# while CloudFormation deploys or deletes the stack.
CDK_HANDLER_SKIPS = {
    "CKV_AWS_115": "CDK's deploy-time custom resource handler: CloudFormation calls it once "
    "per deploy; a concurrency limit would only make deploys fail",
    "CKV_AWS_116": "CDK's deploy-time custom resource handler: invoked synchronously by "
    "CloudFormation, which reports failures itself; a DLQ would never receive anything",
    "CKV_AWS_117": "CDK's deploy-time custom resource handler: it talks only to S3 and "
    "CloudFormation's public endpoints; a VPC would add NAT cost and no protection",
    "CKV_AWS_173": "CDK's deploy-time custom resource handler: its environment holds no "
    "secrets, and Lambda encrypts it at rest with an AWS-managed key",
    "CKV_AWS_158": "Logs of CDK's deploy-time handler: no secrets; CloudWatch Logs encrypts "
    "them at rest",
}
CDK_HANDLER_TYPES = {"AWS::Lambda::Function", "AWS::Logs::LogGroup"}
# The service's own function: invoked by Restate only, synchronously.
SERVICE_FUNCTION_SKIPS = {
    "CKV_AWS_116": "Restate invokes the function synchronously (RequestResponse) and retries "
    "failed invocations itself from its journal; a DLQ only receives asynchronous events",
    "CKV_AWS_117": "The function calls public AWS APIs (Athena, Secrets Manager) and the "
    "callers' webhook URLs on the internet; a VPC would need a NAT gateway and add no control "
    "the IAM role and the callback URL checks do not already give",
    "CKV_AWS_173": "Its environment holds names, the workgroup and the secret's ARN, never a "
    "secret; Lambda encrypts it at rest with an AWS-managed key",
}
CONCURRENCY_SKIP = {
    "CKV_AWS_115": "No reserved concurrency unless -c lambdaReservedConcurrency=N: reserving "
    "takes from the account's pool and fails deploys in accounts with the default low limit",
}
SERVICE_LOG_SKIPS = {
    "CKV_AWS_158": "The service logs no secrets (the webhook secret and keys are never "
    "logged); CloudWatch Logs encrypts them at rest",
}


def skip_checkov(resource: CfnResource, reasons: dict[str, str]) -> None:
    resource.add_metadata(
        "checkov",
        {"skip": [{"id": check, "comment": comment} for check, comment in reasons.items()]},
    )


@jsii.implements(IAspect)
class CdkHandlerCheckovSkips:
    """Marks the custom resource handlers CDK adds (paths `Custom::...`) with their skips."""

    def visit(self, node: object) -> None:
        if (
            isinstance(node, CfnResource)
            and node.cfn_resource_type in CDK_HANDLER_TYPES
            and "/Custom::" in f"/{node.node.path}"
        ):
            is_log_group = node.cfn_resource_type == "AWS::Logs::LogGroup"
            # Only the BucketDeployment handler has an environment to encrypt.
            has_environment = "CDKBucketDeployment" in node.node.path
            reasons = {
                check: comment
                for check, comment in CDK_HANDLER_SKIPS.items()
                if (check == "CKV_AWS_158") == is_log_group
                and (check != "CKV_AWS_173" or has_environment)
            }
            skip_checkov(node, reasons)


class ContextError(ValueError):
    """A context parameter is missing or wrong; the message says how to pass it."""


@dataclass(frozen=True)
class DeploySettings:
    restate_ingress_url: str
    restate_api_key_secret_name: str
    service_principal_arn: str | None = None
    # Who may assume the invoker role: the Restate Cloud role, or your restate-server's.
    restate_principal_arn: str | None = None
    restate_external_id: str | None = None
    webhook_secret_name: str = DEFAULT_WEBHOOK_SECRET_NAME
    restate_identity_keys: str | None = None
    reserved_concurrency: int | None = None
    # False with -c lambdaBundling=skip: the template without pip (tests, offline synth).
    bundle_lambda: bool = True
    # What a request may name besides the demo workgroup, database and results prefix
    # (-c athenaAllowedWorkgroups=a,b -c athenaAllowedDatabases=... -c
    # athenaAllowedOutputLocations=s3://bucket/prefix/,...): the role may use exactly these.
    allowed_workgroups: tuple[str, ...] = ()
    allowed_databases: tuple[str, ...] = ()
    allowed_output_locations: tuple[str, ...] = ()
    # -c athenaRunningEvents=false: only final states reach Restate, one invocation a query
    # fewer; status then shows QUEUED until the query ends (infra/athena_events.py).
    running_events: bool = True

    @property
    def events_endpoint(self) -> str:
        return self.restate_ingress_url.rstrip("/") + EVENTS_HANDLER_PATH


def settings_from_context(scope: Construct) -> DeploySettings:
    """Read and check the context parameters; one error names every problem, a line each."""
    ingress_url = scope.node.try_get_context("restateIngressUrl")
    secret_name = scope.node.try_get_context("restateApiKeySecretName")
    principal_arn = scope.node.try_get_context("servicePrincipalArn")
    restate_principal = scope.node.try_get_context("restatePrincipalArn")
    concurrency = scope.node.try_get_context("lambdaReservedConcurrency")
    bundling = str(scope.node.try_get_context("lambdaBundling") or "pip")
    problems = []
    if not ingress_url:
        problems.append(
            "Missing context parameter restateIngressUrl: pass the https URL of your Restate "
            "ingress with -c restateIngressUrl=https://... "
            "(for example -c restateIngressUrl=https://restate.example.com:8080)."
        )
    elif not _is_https_url(str(ingress_url)):
        problems.append(
            f"Context parameter restateIngressUrl must be an https URL (EventBridge API "
            f"destinations only call HTTPS endpoints), got {ingress_url!r}: pass "
            "-c restateIngressUrl=https://..."
        )
    if not secret_name:
        problems.append(
            "Missing context parameter restateApiKeySecretName: create a Secrets Manager "
            "secret holding the Restate API key and pass its name with "
            "-c restateApiKeySecretName=... "
            "(for example -c restateApiKeySecretName=restate/ingress-api-key)."
        )
    if principal_arn and not str(principal_arn).startswith("arn:"):
        problems.append(
            f"Context parameter servicePrincipalArn must be an IAM ARN, got {principal_arn!r}: "
            "pass -c servicePrincipalArn=arn:aws:iam::<account>:role/<name> or leave it out."
        )
    if restate_principal and not str(restate_principal).startswith("arn:"):
        problems.append(
            f"Context parameter restatePrincipalArn must be an IAM ARN, got "
            f"{restate_principal!r}: pass the role your Restate environment invokes Lambda "
            "with, -c restatePrincipalArn=arn:aws:iam::<account>:role/<name>, or leave it out."
        )
    if concurrency is not None and not str(concurrency).isdigit():
        problems.append(
            f"Context parameter lambdaReservedConcurrency must be a whole number, got "
            f"{concurrency!r}: pass -c lambdaReservedConcurrency=20 or leave it out."
        )
    if bundling not in ("pip", "skip"):
        problems.append(f"Context parameter lambdaBundling must be pip or skip, got {bundling!r}.")
    # A string from -c, or a JSON boolean from cdk.json: both read as true or false.
    running = scope.node.try_get_context("athenaRunningEvents")
    running_events = "true" if running is None else str(running).lower()
    if running_events not in ("true", "false"):
        problems.append(
            f"Context parameter athenaRunningEvents must be true or false, got "
            f"{running_events!r}: pass -c athenaRunningEvents=false to send only final "
            "states, or leave it out."
        )
    workgroups = _names(scope, "athenaAllowedWorkgroups", r"[a-zA-Z0-9._-]{1,128}", problems)
    databases = _names(scope, "athenaAllowedDatabases", r"[a-z0-9_]{1,255}", problems)
    locations = _names(
        scope, "athenaAllowedOutputLocations", r"s3://[a-z0-9.-]{3,63}/\S*", problems
    )
    if problems:
        raise ContextError("\n".join(problems))
    return DeploySettings(
        restate_ingress_url=str(ingress_url),
        restate_api_key_secret_name=str(secret_name),
        service_principal_arn=str(principal_arn) if principal_arn else None,
        restate_principal_arn=str(restate_principal) if restate_principal else None,
        restate_external_id=_optional(scope, "restateExternalId"),
        webhook_secret_name=_optional(scope, "webhookSecretName") or DEFAULT_WEBHOOK_SECRET_NAME,
        restate_identity_keys=_optional(scope, "restateIdentityKeys"),
        reserved_concurrency=int(concurrency) if concurrency is not None else None,
        bundle_lambda=bundling == "pip",
        allowed_workgroups=workgroups,
        allowed_databases=databases,
        allowed_output_locations=locations,
        running_events=running_events != "false",
    )


def _names(scope: Construct, name: str, pattern: str, problems: list[str]) -> tuple[str, ...]:
    """A comma-separated context list; each item must match `pattern` (no wildcards)."""
    values = tuple(v for v in re.split(r"[\s,]+", _optional(scope, name) or "") if v)
    for value in values:
        if not re.fullmatch(pattern, value):
            problems.append(
                f"Context parameter {name}: {value!r} is not allowed (each item must match "
                f"{pattern}; no wildcards): pass -c {name}=a,b or leave it out."
            )
    return values


def _bucket_and_prefix(location: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix/` as ("bucket", "some/prefix/")."""
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    return bucket, prefix


def _optional(scope: Construct, name: str) -> str | None:
    value = scope.node.try_get_context(name)
    return str(value) if value else None


def _is_https_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(parts.hostname) and not parts.username


def glue_columns(schema: TableSchema) -> list[glue.CfnTable.ColumnProperty]:
    return [
        glue.CfnTable.ColumnProperty(
            name=column.name, type=GLUE_TYPES[column.type], comment=column.comment or None
        )
        for column in schema.columns
    ]


class AthenaPromiseStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: DeploySettings,
        env: Environment | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            env=env,
            description="Athena queries as durable promises: data, table, workgroup, the "
            "service on Lambda, and Athena events to the Restate ingress",
        )
        schema = load_schema()

        # Bucket for the table's data (data/) and Athena's query results (results/, expired
        # after a week); a demo, so it is emptied and deleted with the stack.
        bucket = s3.Bucket(
            self,
            "DataBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.DESTROY,
            auto_delete_objects=True,
            lifecycle_rules=[
                s3.LifecycleRule(prefix=RESULTS_PREFIX, expiration=Duration.days(7)),
            ],
        )
        skip_checkov(_cfn(bucket), DEMO_BUCKET_SKIPS)

        # The sample rows, copied from the repository's data/ (JSON lines files only).
        s3deploy.BucketDeployment(
            self,
            "SampleData",
            sources=[s3deploy.Source.asset(str(DATA_DIR), exclude=["*", "!*.jsonl"])],
            destination_bucket=bucket,
            destination_key_prefix=DATA_PREFIX,
        )

        # Glue database holding the demo table.
        database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=self.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(name=schema.database),
        )

        # The demo table over s3://bucket/data/, JSON lines read by the OpenX JSON SerDe.
        table = glue.CfnTable(
            self,
            "Table",
            catalog_id=self.account,
            database_name=schema.database,
            table_input=glue.CfnTable.TableInputProperty(
                name=schema.table,
                table_type="EXTERNAL_TABLE",
                parameters={"classification": "json", "EXTERNAL": "TRUE"},
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=glue_columns(schema),
                    location=f"s3://{bucket.bucket_name}/{DATA_PREFIX}",
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.openx.data.jsonserde.JsonSerDe",
                    ),
                ),
            ),
        )
        table.node.add_dependency(database)

        # Workgroup the service runs in; its result location and settings override clients'.
        workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=WORKGROUP_NAME,
            description="Athena queries run as durable promises by the Restate service",
            state="ENABLED",
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=1_000_000_000,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="AUTO"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{bucket.bucket_name}/{RESULTS_PREFIX}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )

        # Role the Restate service assumes: this workgroup, this table, this bucket, nothing more.
        principal: iam.IPrincipal = (
            iam.ArnPrincipal(settings.service_principal_arn)
            if settings.service_principal_arn
            else iam.AccountRootPrincipal()
        )
        # The same role runs the Lambda function (its execution role) and a long-running
        # `python -m service` elsewhere, if you run one.
        role = iam.Role(
            self,
            "ServiceRole",
            assumed_by=iam.CompositePrincipal(
                principal, iam.ServicePrincipal("lambda.amazonaws.com")
            ),
            description="Assumed by the Restate service to run Athena queries in demo-workgroup",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="AthenaWorkGroup",
                actions=ATHENA_ACTIONS,
                resources=[
                    self.format_arn(service="athena", resource="workgroup", resource_name=name)
                    for name in [workgroup.name, *settings.allowed_workgroups]
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="GlueTable",
                actions=GLUE_ACTIONS,
                resources=[
                    self.format_arn(service="glue", resource="catalog"),
                    self.format_arn(
                        service="glue", resource="database", resource_name=schema.database
                    ),
                    self.format_arn(
                        service="glue",
                        resource="table",
                        resource_name=f"{schema.database}/{schema.table}",
                    ),
                ],
            )
        )
        if settings.allowed_databases:
            # The allowed databases' tables are not this stack's: the role may read the catalog
            # entries of any table in those databases, and nothing beyond them.
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="GlueAllowedDatabases",
                    actions=GLUE_ACTIONS,
                    resources=[
                        arn
                        for database in settings.allowed_databases
                        for arn in (
                            self.format_arn(
                                service="glue", resource="database", resource_name=database
                            ),
                            self.format_arn(
                                service="glue", resource="table", resource_name=f"{database}/*"
                            ),
                        )
                    ],
                )
            )
        if settings.allowed_output_locations:
            # Results a request may send elsewhere: those buckets, and only under the prefixes.
            places = [_bucket_and_prefix(loc) for loc in settings.allowed_output_locations]
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="AllowedResultBuckets",
                    actions=BUCKET_ACTIONS,
                    resources=sorted({f"arn:{self.partition}:s3:::{b}" for b, _ in places}),
                )
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="AllowedResultPrefixes",
                    actions=RESULTS_ACTIONS,
                    resources=[f"arn:{self.partition}:s3:::{b}/{p}*" for b, p in places],
                )
            )
        role.add_to_policy(
            iam.PolicyStatement(sid="Bucket", actions=BUCKET_ACTIONS, resources=[bucket.bucket_arn])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadData",
                actions=DATA_READ_ACTIONS,
                resources=[bucket.arn_for_objects(f"{DATA_PREFIX}*")],
            )
        )
        # s3:GetObject here is also what a result's presigned link carries: a presigned URL
        # has the signer's permissions, so the link reads this prefix and nothing else.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadWriteResults",
                actions=RESULTS_ACTIONS,
                resources=[bucket.arn_for_objects(f"{RESULTS_PREFIX}*")],
            )
        )

        # Events that could not be delivered to Restate land here (the service's poll catches up).
        dead_letter_queue = sqs.Queue(
            self,
            "EventsDeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        skip_checkov(_cfn(dead_letter_queue), DEAD_LETTER_QUEUE_SKIPS)

        # How EventBridge authenticates to the Restate ingress: "Authorization: Bearer <key>".
        # The key stays a Secrets Manager dynamic reference that CloudFormation resolves at
        # deploy time, so it never appears in the template; EventBridge keeps it in a secret
        # of its own. (unsafe_plain_text only wraps the prefixed reference, no plaintext key.)
        api_key = SecretValue.secrets_manager(settings.restate_api_key_secret_name)
        connection = events.Connection(
            self,
            "RestateConnection",
            description="Restate ingress, authenticated with the Restate API key",
            authorization=events.Authorization.api_key(
                "Authorization", SecretValue.unsafe_plain_text(f"Bearer {api_key.unsafe_unwrap()}")
            ),
        )

        # The Restate handler that resolves the awakeable waiting for a query.
        destination = events.ApiDestination(
            self,
            "RestateStateChangeHandler",
            connection=connection,
            endpoint=settings.events_endpoint,
            http_method=events.HttpMethod.POST,
            # Two events a query (RUNNING, final): room for 50 queries a second (100 with
            # athenaRunningEvents=false, one event a query).
            rate_limit_per_second=100,
            description="Restate completion/{queryExecutionId}/onEvent",
        )

        # Athena's state changes in this workgroup (RUNNING unless left out, and the final
        # ones), sent whole (the EventBridge envelope) to the query's own mailbox in Restate
        # as plain application/json (EventBridge's default adds a charset); failed
        # deliveries are retried for two hours, then dead-lettered.
        events.Rule(
            self,
            "QueryStateChangeRule",
            description="Athena query states in demo-workgroup, to Restate",
            event_pattern=events.EventPattern(
                source=["aws.athena"],
                detail_type=["Athena Query State Change"],
                detail={
                    "workgroupName": [WORKGROUP_NAME, *settings.allowed_workgroups],
                    "currentState": event_states(settings.running_events),
                },
            ),
            targets=[
                targets.ApiDestination(
                    destination,
                    path_parameter_values=EVENTS_PATH_PARAMETERS,
                    header_parameters={"Content-Type": "application/json"},
                    dead_letter_queue=dead_letter_queue,
                    max_event_age=Duration.hours(2),
                    retry_attempts=64,
                )
            ],
        )

        function, version, invoker = self._service_function(settings, role, workgroup.name)

        CfnOutput(self, "BucketName", value=bucket.bucket_name)
        CfnOutput(self, "ServiceRoleArn", value=role.role_arn)
        CfnOutput(self, "WorkGroupName", value=workgroup.name)
        CfnOutput(self, "DeadLetterQueueUrl", value=dead_letter_queue.queue_url)
        CfnOutput(self, "FunctionName", value=function.function_name)
        CfnOutput(self, "FunctionVersionArn", value=version.function_arn)
        CfnOutput(self, "InvokerRoleArn", value=invoker.role_arn)
        CfnOutput(
            self,
            "RegisterCommand",
            description="Registers this version with Restate (run it after each deploy)",
            value=f"restate deployments register {version.function_arn} "
            f"--assume-role-arn {invoker.role_arn}",
        )
        Aspects.of(self).add(CdkHandlerCheckovSkips())

    def _service_function(
        self, settings: DeploySettings, role: iam.Role, workgroup_name: str
    ) -> tuple[lambda_.Function, lambda_.IVersion, iam.Role]:
        """The service on Lambda, its logs, its secret, and the role Restate invokes it with."""
        # Its logs, kept a month; the role may write here and nowhere else.
        log_group = logs.LogGroup(
            self,
            "ServiceLogs",
            log_group_name=f"/aws/lambda/{FUNCTION_NAME}",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        skip_checkov(_cfn(log_group), SERVICE_LOG_SKIPS)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteLogs",
                actions=LOG_ACTIONS,
                resources=[log_group.log_group_arn, f"{log_group.log_group_arn}:log-stream:*"],
            )
        )

        # The webhook signing secret (whsec_...), created by you: only its ARN is in the
        # template and the environment; the service reads the value at start.
        webhook_secret = secretsmanager.Secret.from_secret_name_v2(
            self, "WebhookSecret", settings.webhook_secret_name
        )
        webhook_secret.grant_read(role)

        environment = {
            "ATHENA_WORKGROUP": workgroup_name,
            "ATHENA_DATABASE": load_schema().database,
            "COMPLETION_MODE": "both",
            "WEBHOOK_SECRET_ARN": webhook_secret.secret_arn,
        }
        if settings.restate_identity_keys:
            environment["RESTATE_IDENTITY_KEYS"] = settings.restate_identity_keys
        # The service's allow-lists: exactly what the role may use.
        for variable, names in [
            ("ATHENA_ALLOWED_WORKGROUPS", settings.allowed_workgroups),
            ("ATHENA_ALLOWED_DATABASES", settings.allowed_databases),
            ("ATHENA_ALLOWED_OUTPUT_LOCATIONS", settings.allowed_output_locations),
        ]:
            if names:
                environment[variable] = ",".join(names)

        # The Restate service itself: the SDK's Lambda handler of service.app, arm64.
        function = lambda_.Function(
            self,
            "ServiceFunction",
            function_name=FUNCTION_NAME,
            description="Athena queries as durable promises: the Restate service",
            runtime=lambda_package.RUNTIME,
            architecture=lambda_package.ARCHITECTURE,
            handler=lambda_package.HANDLER,
            code=lambda_package.service_code(bundle=settings.bundle_lambda),
            role=role,
            memory_size=512,
            # Restate suspends a waiting promise, so invocations are short; this bounds a
            # stuck one (webhook attempts time out after 15 s, Athena calls sooner).
            timeout=Duration.minutes(5),
            environment=environment,
            log_group=log_group,
            reserved_concurrent_executions=settings.reserved_concurrency,
        )
        function_skips = dict(SERVICE_FUNCTION_SKIPS)
        if settings.reserved_concurrency is None:
            function_skips |= CONCURRENCY_SKIP
        skip_checkov(_cfn(function), function_skips)
        # Restate registers a published version; each code change publishes a new one.
        version = function.current_version

        # The role Restate assumes to invoke the function (any version of it).
        invoker_principal: iam.PrincipalBase = (
            iam.ArnPrincipal(settings.restate_principal_arn)
            if settings.restate_principal_arn
            else iam.AccountRootPrincipal()
        )
        if settings.restate_external_id:
            invoker_principal = invoker_principal.with_conditions(
                {"StringEquals": {"sts:ExternalId": settings.restate_external_id}}
            )
        invoker = iam.Role(
            self,
            "RestateInvokerRole",
            assumed_by=invoker_principal,
            description="Assumed by Restate to invoke the athena-promise function",
        )
        invoker.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeService",
                actions=INVOKE_ACTIONS,
                resources=[function.function_arn, f"{function.function_arn}:*"],
            )
        )
        return function, version, invoker


def _cfn(construct: Construct) -> CfnResource:
    resource = construct.node.default_child
    assert isinstance(resource, CfnResource)
    return resource
