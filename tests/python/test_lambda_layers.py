"""Lambda layers with boto3: publish, read, list, delete; functions that use them find their
content where the runtime looks (Python's `python` and `python/lib/pythonX.Y/site-packages`,
`bin` on PATH), later layers overriding earlier ones, as Lambda extracts them into /opt.

Sources: botocore's `lambda/2015-03-31/service-2.json` (PublishLayerVersion, GetLayerVersion,
GetLayerVersionByArn, ListLayers, ListLayerVersions, DeleteLayerVersion), AWS's developer guide
("Packaging your layer content": the paths each runtime searches)."""

import io
import json
import sys
import zipfile

import pytest
from botocore.exceptions import ClientError

from test_lambda_versions import ROLE, error, server  # noqa: F401 (fixture)

LAYER = "arn:aws:lambda:us-east-1:123456789012:layer:"

APP = '''
import os, subprocess

def handler(event, context):
    import shared, deep
    tool = subprocess.run(["layer-tool"], capture_output=True, text=True).stdout.strip()
    return {"shared": shared.WHO, "deep": deep.WHO, "tool": tool,
            "opt": bool(os.environ.get("EDDY_LAYERS_DIR"))}
'''


def zipped(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, (text, mode) in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            z.writestr(info, text)
    return buf.getvalue()


@pytest.fixture
def lam(server):  # noqa: F811
    assert server.post("/moto-api/reset")[0] == 200
    return server.client("lambda")


def test_layers(lam):
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    first = lam.publish_layer_version(
        LayerName="base", Description="first", CompatibleRuntimes=["python3.11"],
        CompatibleArchitectures=["x86_64"], LicenseInfo="MIT",
        Content={"ZipFile": zipped({
            "python/shared.py": ("WHO = 'base'\n", 0o100644),
            f"python/lib/python{minor}/site-packages/deep.py": ("WHO = 'deep'\n", 0o100644),
            "bin/layer-tool": ("#!/bin/sh\necho tool-from-layer\n", 0o100755),
        })})
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert first["Version"] == 1 and first["LayerVersionArn"] == LAYER + "base:1"
    assert first["LayerArn"] == LAYER + "base" and first["Description"] == "first"
    assert first["CompatibleRuntimes"] == ["python3.11"] and first["LicenseInfo"] == "MIT"
    assert first["Content"]["CodeSize"] > 0 and first["Content"]["CodeSha256"]
    over = lam.publish_layer_version(LayerName="override", Content={"ZipFile": zipped({
        "python/shared.py": ("WHO = 'override'\n", 0o100644)})})
    assert over["Version"] == 1 and "CompatibleRuntimes" not in over
    again = lam.publish_layer_version(LayerName="base", Content={"ZipFile": zipped({
        "python/shared.py": ("WHO = 'base v2'\n", 0o100644)})})
    assert again["Version"] == 2

    got = lam.get_layer_version(LayerName="base", VersionNumber=1)
    assert got["LayerVersionArn"] == LAYER + "base:1" and got["CompatibleArchitectures"] == ["x86_64"]
    assert lam.get_layer_version_by_arn(Arn=LAYER + "base:2")["Version"] == 2
    versions = lam.list_layer_versions(LayerName="base")["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]
    assert "Content" not in versions[0]
    assert [v["Version"] for v in lam.list_layer_versions(
        LayerName="base", CompatibleRuntime="python3.11")["LayerVersions"]] == [1]
    layers = lam.list_layers()["Layers"]
    assert [(x["LayerName"], x["LatestMatchingVersion"]["Version"]) for x in layers] == \
        [("base", 2), ("override", 1)]
    assert error(lambda: lam.get_layer_version(LayerName="base", VersionNumber=9)) == (
        "ResourceNotFoundException", 404, "The resource you requested does not exist.")
    assert error(lambda: lam.get_layer_version(LayerName="base", VersionNumber=0)) == (
        "InvalidParameterValueException", 400, "Layer Version Cannot be less than 1")

    # A function with both layers: the later one wins where they overlap.
    fn = lam.create_function(
        FunctionName="uses", Runtime=f"python{minor}", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": zipped({"app.py": (APP, 0o100644)})},
        Layers=[LAYER + "base:1", LAYER + "override:1"])
    assert fn["Layers"] == [{"Arn": LAYER + "base:1", "CodeSize": first["Content"]["CodeSize"]},
                            {"Arn": LAYER + "override:1", "CodeSize": over["Content"]["CodeSize"]}]
    lam.get_waiter("function_active_v2").wait(FunctionName="uses")
    out = json.loads(lam.invoke(FunctionName="uses")["Payload"].read())
    assert out == {"shared": "override", "deep": "deep", "tool": "tool-from-layer", "opt": True}
    # Deleting a layer version does not break the functions that use it.
    lam.delete_layer_version(LayerName="base", VersionNumber=1)
    lam.delete_layer_version(LayerName="base", VersionNumber=1)  # gone already: no error
    assert error(lambda: lam.get_layer_version(LayerName="base", VersionNumber=1))[0] == \
        "ResourceNotFoundException"
    lam.update_function_configuration(FunctionName="uses", Timeout=9)
    lam.get_waiter("function_updated_v2").wait(FunctionName="uses")
    assert json.loads(lam.invoke(FunctionName="uses")["Payload"].read())["deep"] == "deep"
    # Layers change with the configuration; an empty list removes them.
    lam.update_function_configuration(FunctionName="uses", Layers=[LAYER + "base:2"])
    lam.get_waiter("function_updated_v2").wait(FunctionName="uses")
    assert lam.get_function_configuration(FunctionName="uses")["Layers"][0]["Arn"] == \
        LAYER + "base:2"
    lam.update_function_configuration(FunctionName="uses", Layers=[])
    lam.get_waiter("function_updated_v2").wait(FunctionName="uses")
    assert "Layers" not in lam.get_function_configuration(FunctionName="uses")

    # Refusals, in Lambda's words.
    def refused(layers):
        return error(lambda: lam.update_function_configuration(FunctionName="uses",
                                                               Layers=layers))
    assert refused([LAYER + "base:7"]) == (
        "InvalidParameterValueException", 400, f"Layer version {LAYER}base:7 does not exist.")
    assert refused([LAYER + "base:2", LAYER + "base:2"])[2].startswith(
        "Two different versions of the same layer are not allowed")
    assert refused([LAYER + f"l{i}:1" for i in range(6)]) == (
        "InvalidParameterValueException", 400, "Cannot reference more than 5 layers.")
    assert refused(["arn:aws:lambda:eu-west-1:123456789012:layer:base:2"])[2].startswith(
        "Layers are not in the same region as the function.")
