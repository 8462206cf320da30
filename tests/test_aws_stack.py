"""The CDK stack, checked on its synthesized template (offline: no AWS account, no Docker)."""

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from infra.aws import app as cdk_app
from infra.aws import lambda_package
from infra.aws.stack import (
    ATHENA_ACTIONS,
    BUCKET_ACTIONS,
    DATA_READ_ACTIONS,
    GLUE_ACTIONS,
    INVOKE_ACTIONS,
    LOG_ACTIONS,
    RESULTS_ACTIONS,
    AthenaPromiseStack,
    ContextError,
    settings_from_context,
)
from infra.schema import load_schema

ACCOUNT = "123456789012"
REGION = "eu-west-1"
# The feature flags `cdk synth` runs with (cdk.json), so the tests see the same template.
FEATURE_FLAGS = json.loads(Path(cdk_app.__file__).with_name("cdk.json").read_text())["context"]
CONTEXT = {
    **FEATURE_FLAGS,
    "restateIngressUrl": "https://restate.example.com:8080",
    "restateApiKeySecretName": "restate/ingress-api-key",
    # The template without pip downloads (see infra/aws/lambda_package.py).
    "lambdaBundling": "skip",
}
RESTATE_ROLE = "arn:aws:iam::210987654321:role/restate-cloud-invoker"


class Synthesized:
    def __init__(self, **context: str) -> None:
        self.app = cdk.App(context={**CONTEXT, **context})
        self.stack = AthenaPromiseStack(
            self.app,
            "TestStack",
            settings=settings_from_context(self.app),
            env=cdk.Environment(account=ACCOUNT, region=REGION),
        )
        self.template = Template.from_stack(self.stack)
        self.resources: dict[str, Any] = self.template.to_json()["Resources"]

    def resolve(self, value: Any) -> Any:
        return self.stack.resolve(value)

    def only(self, resource_type: str) -> tuple[str, Any]:
        found = self.template.find_resources(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        logical_id, resource = next(iter(found.items()))
        return logical_id, resource

    def logical_id(self, construct_path: str) -> str:
        child = self.stack.node.find_child(construct_path)
        element = child if isinstance(child, cdk.CfnElement) else child.node.default_child
        assert isinstance(element, cdk.CfnElement)
        return self.stack.get_logical_id(element)


@pytest.fixture(scope="module")
def synth() -> Synthesized:
    return Synthesized()


def arn(service: str, resource: str) -> str:
    # With @aws-cdk/core:enablePartitionLiterals a known region's partition is written out.
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


def sorted_actions(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Statements with their action lists sorted: CDK's feature flags decide the order."""
    return [
        {**statement, "Action": sorted(statement["Action"])}
        if isinstance(statement["Action"], list)
        else statement
        for statement in statements
    ]


def bucket_objects(synth: Synthesized, prefix: str) -> dict[str, Any]:
    bucket_id = synth.logical_id("DataBucket")
    return {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/{prefix}*"]]}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def all_policy_statements(synth: Synthesized) -> list[dict[str, Any]]:
    """Every statement of every identity and resource policy in the template."""
    statements: list[dict[str, Any]] = []
    for resource in synth.resources.values():
        properties = resource.get("Properties", {})
        documents = [properties.get("PolicyDocument")]
        documents += [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        for document in documents:
            if document:
                statements += document["Statement"]
    return statements


def test_resource_counts(synth: Synthesized) -> None:
    expected = {
        "AWS::S3::Bucket": 1,
        "AWS::S3::BucketPolicy": 1,
        "AWS::Glue::Database": 1,
        "AWS::Glue::Table": 1,
        "AWS::Athena::WorkGroup": 1,
        "AWS::Events::Connection": 1,
        "AWS::Events::ApiDestination": 1,
        "AWS::Events::Rule": 1,
        "AWS::SQS::Queue": 1,
        "AWS::SQS::QueuePolicy": 1,
        "Custom::CDKBucketDeployment": 1,
        "Custom::S3AutoDeleteObjects": 1,
        # The service, and CDK's own BucketDeployment and auto-delete-objects handlers.
        "AWS::Lambda::Function": 3,
        "AWS::Lambda::Version": 1,
        # The service's, and the BucketDeployment handler's.
        "AWS::Logs::LogGroup": 2,
        # The AWS CLI layer the BucketDeployment handler runs with.
        "AWS::Lambda::LayerVersion": 1,
        # Service role (the function's too), Restate's invoker role, EventBridge's role for
        # the API destination, and the two CDK handlers'.
        "AWS::IAM::Role": 5,
        "AWS::DynamoDB::Table": 0,
        "AWS::SecretsManager::Secret": 0,
    }
    for resource_type, count in expected.items():
        synth.template.resource_count_is(resource_type, count)


def test_the_functions_are_the_service_and_cdks_custom_resource_handlers(
    synth: Synthesized,
) -> None:
    functions = set(synth.template.find_resources("AWS::Lambda::Function"))
    handlers = {synth.logical_id("ServiceFunction")}
    for custom_type in ("Custom::CDKBucketDeployment", "Custom::S3AutoDeleteObjects"):
        _, custom = synth.only(custom_type)
        handlers.add(custom["Properties"]["ServiceToken"]["Fn::GetAtt"][0])
    assert functions == handlers


def test_the_service_runs_on_lambda_arm64_with_the_sdks_handler(synth: Synthesized) -> None:
    function_id = synth.logical_id("ServiceFunction")
    properties = synth.resources[function_id]["Properties"]
    assert properties["FunctionName"] == "athena-promise"
    assert properties["Runtime"] == "python3.13"
    assert properties["Architectures"] == ["arm64"]
    assert properties["Handler"] == "service.app.app"
    assert properties["Role"] == {"Fn::GetAtt": [synth.logical_id("ServiceRole"), "Arn"]}
    assert properties["Timeout"] == 300 and properties["MemorySize"] == 512
    assert properties["LoggingConfig"] == {"LogGroup": {"Ref": synth.logical_id("ServiceLogs")}}
    assert "ReservedConcurrentExecutions" not in properties
    assert properties["Environment"]["Variables"] == {
        "ATHENA_WORKGROUP": "demo-workgroup",
        "ATHENA_DATABASE": "demo_db",
        "COMPLETION_MODE": "both",
        "WEBHOOK_SECRET_ARN": arn("secretsmanager", "secret:athena-promise/webhook-secret"),
    }
    # Restate registers a published version.
    _, version = synth.only("AWS::Lambda::Version")
    assert version["Properties"]["FunctionName"] == {"Ref": function_id}
    log_group = synth.resources[synth.logical_id("ServiceLogs")]
    assert log_group["Properties"] == {
        "LogGroupName": "/aws/lambda/athena-promise",
        "RetentionInDays": 30,
    }


def test_the_function_options_come_from_the_context() -> None:
    synth = Synthesized(
        lambdaReservedConcurrency="20",
        restateIdentityKeys="publickeyv1_abc",
        webhookSecretName="my/secret",
    )
    properties = synth.resources[synth.logical_id("ServiceFunction")]["Properties"]
    assert properties["ReservedConcurrentExecutions"] == 20
    variables = properties["Environment"]["Variables"]
    assert variables["RESTATE_IDENTITY_KEYS"] == "publickeyv1_abc"
    assert variables["WEBHOOK_SECRET_ARN"] == arn("secretsmanager", "secret:my/secret")
    skips = synth.resources[synth.logical_id("ServiceFunction")]["Metadata"]["checkov"]["skip"]
    assert "CKV_AWS_115" not in {skip["id"] for skip in skips}


def test_the_lambda_package_holds_only_what_the_service_imports() -> None:
    lines = lambda_package.REQUIREMENTS.read_text().lower().splitlines()
    requirements = "\n".join(line for line in lines if not line.startswith("#"))
    for absent in ("duckdb", "sqlglot", "aws-cdk", "constructs", "hypercorn", "pytest"):
        assert absent not in requirements
    assert "restate-sdk[serde]==1.3.0" in requirements
    assert lambda_package.PACKAGES == ("service", "webhooks", "envconfig")
    command = lambda_package.pip_command(Path("/tmp/out"))
    assert "--only-binary=:all:" in command and "manylinux_2_28_aarch64" in command
    assert command[command.index("--python-version") + 1] == "3.13"
    # The hash follows the code: the asset changes when the service does.
    assert len(lambda_package.source_hash()) == 64


def test_the_invoker_role_may_only_invoke_the_function() -> None:
    synth = Synthesized(restatePrincipalArn=RESTATE_ROLE, restateExternalId="env_123")
    role_id = synth.logical_id("RestateInvokerRole")
    assert synth.resources[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": RESTATE_ROLE},
            "Condition": {"StringEquals": {"sts:ExternalId": "env_123"}},
        }
    ]
    policies = [
        resource["Properties"]["PolicyDocument"]["Statement"]
        for resource in synth.template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in resource["Properties"]["Roles"]
    ]
    function_arn = {"Fn::GetAtt": [synth.logical_id("ServiceFunction"), "Arn"]}
    assert policies == [
        [
            {
                "Sid": "InvokeService",
                "Effect": "Allow",
                "Action": INVOKE_ACTIONS[0],
                "Resource": [function_arn, {"Fn::Join": ["", [function_arn, ":*"]]}],
            }
        ]
    ]


def test_no_secret_value_is_in_the_template(synth: Synthesized) -> None:
    text = json.dumps(synth.template.to_json())
    # Both secrets are references resolved by AWS, never values: the API key a dynamic
    # reference, the webhook secret an ARN the function reads at start.
    assert "{{resolve:secretsmanager:restate/ingress-api-key:SecretString:::}}" in text
    assert "whsec_" not in text and 'WEBHOOK_SECRET"' not in text
    variables = synth.resources[synth.logical_id("ServiceFunction")]["Properties"]["Environment"]
    assert all("SECRET" not in name or name.endswith("_ARN") for name in variables["Variables"])
    synth.template.resource_count_is("AWS::SecretsManager::Secret", 0)


def test_bucket_is_private_encrypted_ssl_only_and_destroyed(synth: Synthesized) -> None:
    bucket_id, bucket = synth.only("AWS::S3::Bucket")
    assert bucket["DeletionPolicy"] == "Delete"
    properties = bucket["Properties"]
    assert properties["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        ]
    }
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    synth.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )
    _, auto_delete = synth.only("Custom::S3AutoDeleteObjects")
    assert auto_delete["Properties"]["BucketName"] == {"Ref": bucket_id}


def test_sample_data_goes_to_data_prefix_and_only_jsonl_files(synth: Synthesized) -> None:
    _, deployment = synth.only("Custom::CDKBucketDeployment")
    properties = deployment["Properties"]
    assert properties["DestinationBucketName"] == {"Ref": synth.logical_id("DataBucket")}
    assert properties["DestinationBucketKeyPrefix"] == "data/"
    [object_key] = properties["SourceObjectKeys"]
    asset_dir = Path(synth.app.synth().directory) / f"asset.{object_key.removesuffix('.zip')}"
    staged = sorted(path.name for path in asset_dir.iterdir())
    assert staged
    assert all(name.endswith(".jsonl") for name in staged), staged
    assert "sample.jsonl" in staged


def test_glue_table_columns_are_the_shared_schema(synth: Synthesized) -> None:
    schema = load_schema()
    _, database = synth.only("AWS::Glue::Database")
    assert database["Properties"]["DatabaseInput"]["Name"] == schema.database
    _, table = synth.only("AWS::Glue::Table")
    table_input = table["Properties"]["TableInput"]
    assert table["Properties"]["DatabaseName"] == schema.database
    assert table_input["Name"] == schema.table
    assert table_input["TableType"] == "EXTERNAL_TABLE"
    storage = table_input["StorageDescriptor"]
    assert storage["Columns"] == [
        {"Name": column.name, "Type": column.type, "Comment": column.comment}
        for column in schema.columns
    ]
    assert storage["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert storage["Location"] == {
        "Fn::Join": ["", ["s3://", {"Ref": synth.logical_id("DataBucket")}, "/data/"]]
    }
    assert synth.logical_id("Database") in table["DependsOn"]


def test_workgroup_enforces_results_location_and_publishes_metrics(synth: Synthesized) -> None:
    _, workgroup = synth.only("AWS::Athena::WorkGroup")
    properties = workgroup["Properties"]
    assert properties["Name"] == "demo-workgroup"
    configuration = properties["WorkGroupConfiguration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["PublishCloudWatchMetricsEnabled"] is True
    assert configuration["EngineVersion"] == {"SelectedEngineVersion": "AUTO"}
    assert configuration["ResultConfiguration"]["OutputLocation"] == {
        "Fn::Join": ["", ["s3://", {"Ref": synth.logical_id("DataBucket")}, "/results/"]]
    }


def test_rule_matches_running_and_final_state_changes_in_the_workgroup(
    synth: Synthesized,
) -> None:
    _, rule = synth.only("AWS::Events::Rule")
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.athena"],
        "detail-type": ["Athena Query State Change"],
        "detail": {
            "workgroupName": ["demo-workgroup"],
            "currentState": ["RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"],
        },
    }


@pytest.mark.parametrize("value", ["false", "False", False])
def test_without_running_events_the_rule_sends_only_final_states(value: Any) -> None:
    # One invocation a query fewer; a JSON false from cdk.json reads as -c's "false".
    final_only = Synthesized(athenaRunningEvents=value)
    _, rule = final_only.only("AWS::Events::Rule")
    states = rule["Properties"]["EventPattern"]["detail"]["currentState"]
    assert states == ["SUCCEEDED", "FAILED", "CANCELLED"]


def test_api_destination_posts_to_the_restate_handler_with_the_api_key(
    synth: Synthesized,
) -> None:
    connection_id, connection = synth.only("AWS::Events::Connection")
    assert connection["Properties"]["AuthorizationType"] == "API_KEY"
    assert connection["Properties"]["AuthParameters"] == {
        "ApiKeyAuthParameters": {
            "ApiKeyName": "Authorization",
            "ApiKeyValue": "Bearer "
            "{{resolve:secretsmanager:restate/ingress-api-key:SecretString:::}}",
        }
    }
    _, destination = synth.only("AWS::Events::ApiDestination")
    properties = destination["Properties"]
    assert properties["InvocationEndpoint"] == (
        "https://restate.example.com:8080/completion/*/onEvent"
    )
    assert properties["HttpMethod"] == "POST"
    assert properties["InvocationRateLimitPerSecond"] > 0
    assert properties["ConnectionArn"] == {"Fn::GetAtt": [connection_id, "Arn"]}


def test_rule_target_has_dead_letter_queue_and_retry_policy(synth: Synthesized) -> None:
    _, rule = synth.only("AWS::Events::Rule")
    [target] = rule["Properties"]["Targets"]
    destination_id, _ = synth.only("AWS::Events::ApiDestination")
    queue_id, queue = synth.only("AWS::SQS::Queue")
    assert target["Arn"] == {"Fn::GetAtt": [destination_id, "Arn"]}
    assert "Input" not in target and "InputTransformer" not in target  # the whole envelope
    # The `*` of the endpoint's path is the query's id: one hop to its mailbox.
    assert target["HttpParameters"]["PathParameterValues"] == ["$.detail.queryExecutionId"]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 7200, "MaximumRetryAttempts": 64}
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    # EventBridge may send to the dead-letter queue, but only for this rule.
    synth.template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "sqs:SendMessage",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Condition": {"ArnEquals": {"aws:SourceArn": Match.any_value()}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_service_role_has_exactly_the_least_privilege_statements(synth: Synthesized) -> None:
    role_id = synth.logical_id("ServiceRole")
    role = synth.resources[role_id]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            # With @aws-cdk/core:enablePartitionLiterals the region's partition is written out.
            "Principal": {
                "AWS": f"arn:aws:iam::{ACCOUNT}:root",
                "Service": "lambda.amazonaws.com",  # the function's execution role too
            },
        }
    ]
    policies = [
        resource["Properties"]
        for resource in synth.template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in resource["Properties"]["Roles"]
    ]
    assert len(policies) == 1
    assert "Policies" not in role["Properties"]
    bucket_arn = {"Fn::GetAtt": [synth.logical_id("DataBucket"), "Arn"]}
    assert sorted_actions(policies[0]["PolicyDocument"]["Statement"]) == sorted_actions(
        [
            {
                "Sid": "AthenaWorkGroup",
                "Effect": "Allow",
                "Action": ATHENA_ACTIONS,
                "Resource": arn("athena", "workgroup/demo-workgroup"),
            },
            {
                "Sid": "GlueTable",
                "Effect": "Allow",
                "Action": GLUE_ACTIONS,
                "Resource": [
                    arn("glue", "catalog"),
                    arn("glue", "database/demo_db"),
                    arn("glue", "table/demo_db/table"),
                ],
            },
            {"Sid": "Bucket", "Effect": "Allow", "Action": BUCKET_ACTIONS, "Resource": bucket_arn},
            {
                "Sid": "ReadData",
                "Effect": "Allow",
                "Action": DATA_READ_ACTIONS[0],
                "Resource": bucket_objects(synth, "data/"),
            },
            {
                "Sid": "ReadWriteResults",
                "Effect": "Allow",
                "Action": RESULTS_ACTIONS,
                "Resource": bucket_objects(synth, "results/"),
            },
            {
                "Sid": "WriteLogs",
                "Effect": "Allow",
                "Action": LOG_ACTIONS,
                "Resource": [
                    {"Fn::GetAtt": [synth.logical_id("ServiceLogs"), "Arn"]},
                    {
                        "Fn::Join": [
                            "",
                            [
                                {"Fn::GetAtt": [synth.logical_id("ServiceLogs"), "Arn"]},
                                ":log-stream:*",
                            ],
                        ]
                    },
                ],
            },
            {
                "Effect": "Allow",
                "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
                "Resource": arn("secretsmanager", "secret:athena-promise/webhook-secret-??????"),
            },
        ]
    )
    assert set(ATHENA_ACTIONS) == {
        "athena:StartQueryExecution",
        "athena:GetQueryExecution",
        "athena:BatchGetQueryExecution",
        "athena:GetQueryResults",
        "athena:GetQueryRuntimeStatistics",
        "athena:StopQueryExecution",
        "athena:GetWorkGroup",
    }
    assert set(GLUE_ACTIONS) == {"glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"}
    assert not any(action.startswith("s3:Put") for action in DATA_READ_ACTIONS)


def test_a_presigned_result_link_may_read_the_result_prefix_and_nothing_more(
    synth: Synthesized,
) -> None:
    # A presigned URL carries the signer's permissions: the service role's s3:GetObject on the
    # workgroup's output prefix is what lets a result's link download the file (HeadObject,
    # which sizes it, needs the same), and GetQueryRuntimeStatistics counts its rows.
    statements = [
        statement
        for resource in synth.template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": synth.logical_id("ServiceRole")} in resource["Properties"]["Roles"]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]
    readers = [s for s in statements if "s3:GetObject" in as_list(s["Action"])]
    assert sorted(s["Sid"] for s in readers) == ["ReadData", "ReadWriteResults"]
    (results,) = [s for s in readers if s["Sid"] == "ReadWriteResults"]
    assert results["Resource"] == bucket_objects(synth, "results/")
    workgroup = synth.template.find_resources("AWS::Athena::WorkGroup")
    (config,) = [w["Properties"]["WorkGroupConfiguration"] for w in workgroup.values()]
    location = config["ResultConfiguration"]["OutputLocation"]
    assert location["Fn::Join"][1][-1] == "/results/"
    (athena,) = [s for s in statements if s.get("Sid") == "AthenaWorkGroup"]
    assert "athena:GetQueryRuntimeStatistics" in as_list(athena["Action"])


def test_no_statement_grants_athena_wildcards(synth: Synthesized) -> None:
    statements = all_policy_statements(synth)
    assert statements
    for statement in statements:
        actions = as_list(statement.get("Action", []))
        assert "*" not in actions
        assert "athena:*" not in actions
        if any(str(action).lower().startswith("athena:") for action in actions):
            assert "*" not in as_list(statement.get("Resource", [])), statement


def test_outputs(synth: Synthesized) -> None:
    bucket_id = synth.logical_id("DataBucket")
    synth.template.has_output("BucketName", {"Value": {"Ref": bucket_id}})
    synth.template.has_output(
        "ServiceRoleArn", {"Value": {"Fn::GetAtt": [synth.logical_id("ServiceRole"), "Arn"]}}
    )
    synth.template.has_output("WorkGroupName", {"Value": "demo-workgroup"})
    queue_id, _ = synth.only("AWS::SQS::Queue")
    synth.template.has_output("DeadLetterQueueUrl", {"Value": {"Ref": queue_id}})
    version_id, _ = synth.only("AWS::Lambda::Version")
    invoker_arn = {"Fn::GetAtt": [synth.logical_id("RestateInvokerRole"), "Arn"]}
    synth.template.has_output("FunctionVersionArn", {"Value": {"Ref": version_id}})
    synth.template.has_output("InvokerRoleArn", {"Value": invoker_arn})
    # Registration is one command, printed with this deploy's version and role.
    synth.template.has_output(
        "RegisterCommand",
        {
            "Value": {
                "Fn::Join": [
                    "",
                    [
                        "restate deployments register ",
                        {"Ref": version_id},
                        " --assume-role-arn ",
                        invoker_arn,
                    ],
                ]
            }
        },
    )


def settings_for(context: dict[str, str]) -> Any:
    return settings_from_context(cdk.App(context=context))


def test_settings_accept_an_optional_service_principal() -> None:
    principal = "arn:aws:iam::210987654321:role/restate-service"
    settings = settings_for({**CONTEXT, "servicePrincipalArn": principal})
    assert settings.service_principal_arn == principal
    assert settings_for(CONTEXT).service_principal_arn is None
    trailing_slash = settings_for({**CONTEXT, "restateIngressUrl": "https://r.example.com/"})
    assert trailing_slash.events_endpoint == "https://r.example.com/completion/*/onEvent"


@pytest.mark.parametrize(
    ("context", "sentences"),
    [
        (
            {"restateApiKeySecretName": "restate/ingress-api-key"},
            ["Missing context parameter restateIngressUrl", "-c restateIngressUrl=https://"],
        ),
        (
            {"restateIngressUrl": "https://restate.example.com:8080"},
            [
                "Missing context parameter restateApiKeySecretName",
                "-c restateApiKeySecretName=",
            ],
        ),
        (
            {},
            [
                "Missing context parameter restateIngressUrl",
                "Missing context parameter restateApiKeySecretName",
            ],
        ),
        (
            {**CONTEXT, "restateIngressUrl": "http://restate.example.com:8080"},
            ["restateIngressUrl must be an https URL", "-c restateIngressUrl=https://"],
        ),
        (
            {**CONTEXT, "servicePrincipalArn": "restate-service"},
            ["servicePrincipalArn must be an IAM ARN"],
        ),
        (
            {**CONTEXT, "restatePrincipalArn": "restate-cloud"},
            ["restatePrincipalArn must be an IAM ARN"],
        ),
        (
            {**CONTEXT, "lambdaReservedConcurrency": "many"},
            ["lambdaReservedConcurrency must be a whole number"],
        ),
        (
            {**CONTEXT, "lambdaBundling": "docker"},
            ["lambdaBundling must be pip or skip"],
        ),
        (
            {**CONTEXT, "athenaRunningEvents": "no"},
            ["athenaRunningEvents must be true or false", "-c athenaRunningEvents=false"],
        ),
    ],
)
def test_bad_context_is_a_clear_sentence(
    context: dict[str, str],
    sentences: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("CDK_CONTEXT_JSON", raising=False)
    with pytest.raises(ContextError) as raised:
        settings_for(context)
    for sentence in sentences:
        assert sentence in str(raised.value)
    # The CLI entry point says the same on stderr and exits non-zero, without a traceback.
    assert cdk_app.main(context=context) == 2
    stderr = capsys.readouterr().err
    for sentence in sentences:
        assert sentence in stderr
    assert "Traceback" not in stderr


def test_checkov_findings_left_on_purpose_are_skipped_with_a_reason(synth: Synthesized) -> None:
    # checkov reads `Metadata.checkov.skip`; each finding the stack keeps says why, and only
    # the demo bucket, the dead-letter queue, the service's function and log group, and CDK's
    # own deploy-time handlers carry any.
    skipped: dict[str, set[str]] = {}
    for logical_id, resource in synth.resources.items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert len(skip["comment"]) > 40, f"{logical_id} skips {skip['id']} without a reason"
            skipped.setdefault(resource["Type"], set()).add(skip["id"])
    assert skipped["AWS::S3::Bucket"] == {"CKV_AWS_18", "CKV_AWS_21"}
    assert skipped["AWS::SQS::Queue"] == {"CKV_AWS_27"}
    assert set(skipped) <= {
        "AWS::S3::Bucket",
        "AWS::SQS::Queue",
        "AWS::Lambda::Function",
        "AWS::Logs::LogGroup",
    }
    function = synth.resources[synth.logical_id("ServiceFunction")]
    assert {skip["id"] for skip in function["Metadata"]["checkov"]["skip"]} == {
        "CKV_AWS_115",
        "CKV_AWS_116",
        "CKV_AWS_117",
        "CKV_AWS_173",
    }
    log_group = synth.resources[synth.logical_id("ServiceLogs")]
    assert {skip["id"] for skip in log_group["Metadata"]["checkov"]["skip"]} == {"CKV_AWS_158"}


def test_the_role_may_use_exactly_the_allowed_workgroups_databases_and_prefixes() -> None:
    allowed = Synthesized(
        athenaAllowedWorkgroups="team-a,team-b",
        athenaAllowedDatabases="crm_db",
        athenaAllowedOutputLocations="s3://team-a-results/athena/",
    )
    statements = {s["Sid"]: s for s in all_policy_statements(allowed) if "Sid" in s}
    assert statements["AthenaWorkGroup"]["Resource"] == [
        arn("athena", "workgroup/demo-workgroup"),
        arn("athena", "workgroup/team-a"),
        arn("athena", "workgroup/team-b"),
    ]
    assert statements["GlueAllowedDatabases"]["Resource"] == [
        arn("glue", "database/crm_db"),
        arn("glue", "table/crm_db/*"),
    ]
    assert statements["AllowedResultBuckets"]["Resource"] == "arn:aws:s3:::team-a-results"
    assert statements["AllowedResultPrefixes"]["Resource"] == "arn:aws:s3:::team-a-results/athena/*"
    variables = next(
        resource["Properties"]["Environment"]["Variables"]
        for resource in allowed.resources.values()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"].get("FunctionName") == "athena-promise"
    )
    assert variables["ATHENA_ALLOWED_WORKGROUPS"] == "team-a,team-b"
    assert variables["ATHENA_ALLOWED_DATABASES"] == "crm_db"
    assert variables["ATHENA_ALLOWED_OUTPUT_LOCATIONS"] == "s3://team-a-results/athena/"
    _, rule = allowed.only("AWS::Events::Rule")
    pattern = rule["Properties"]["EventPattern"]["detail"]["workgroupName"]
    assert pattern == ["demo-workgroup", "team-a", "team-b"]


def test_without_allow_lists_the_role_keeps_the_demo_workgroup_table_and_prefix(
    synth: Synthesized,
) -> None:
    sids = {s.get("Sid") for s in all_policy_statements(synth)}
    assert not sids & {"GlueAllowedDatabases", "AllowedResultBuckets", "AllowedResultPrefixes"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("athenaAllowedWorkgroups", "team-*"),
        ("athenaAllowedDatabases", "crm*"),
        ("athenaAllowedOutputLocations", "https://not-s3/"),
    ],
)
def test_an_allow_list_with_a_wildcard_or_a_wrong_form_is_refused(name: str, value: str) -> None:
    with pytest.raises(ContextError, match=name):
        Synthesized(**{name: value})
