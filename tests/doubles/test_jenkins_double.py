"""The Jenkins double against the reference's cases (SERVICE_APIS.md section 2)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import start_server
from offline import free_port

DOUBLE = Path(__file__).resolve().parent / "jenkins" / "jenkins_double.py"
JOB = """<flow-definition plugin="workflow-job"><properties>
<org.jenkinsci.plugins.workflow.job.properties.PipelineTriggersJobProperty><triggers><hudson.triggers.SCMTrigger>
<spec></spec><ignorePostCommitHooks>false</ignorePostCommitHooks></hudson.triggers.SCMTrigger></triggers>
</org.jenkinsci.plugins.workflow.job.properties.PipelineTriggersJobProperty></properties>
<definition class="org.jenkinsci.plugins.workflow.cps.CpsScmFlowDefinition"><scm class="hudson.plugins.git.GitSCM">
<userRemoteConfigs><hudson.plugins.git.UserRemoteConfig><url>http://gogs:3000/ci/demo.git</url>
<credentialsId>gogs</credentialsId></hudson.plugins.git.UserRemoteConfig></userRemoteConfigs>
<branches><hudson.plugins.git.BranchSpec><name>*/main</name></hudson.plugins.git.BranchSpec></branches></scm>
<scriptPath>Jenkinsfile</scriptPath></definition></flow-definition>"""
CREDENTIAL = ("<com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl><scope>GLOBAL</scope><id>gogs</id>"
              "<username>jenkins</username><password>pw</password></com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl>")


@pytest.fixture
def jenkins(tmp_path):
    port = free_port()
    casc = tmp_path / "casc.yaml"
    casc.write_text('jenkins:\n  securityRealm:\n    local:\n      users:\n        - id: "boss"\n          password: "${ADMIN_PW}"\n')
    env = {**os.environ, "JENKINS_HOME": str(tmp_path), "CASC_JENKINS_CONFIG": str(casc), "ADMIN_PW": "s3cret",
           "JENKINS_DOUBLE_BOOT_SECONDS": "1.5", "JENKINS_DOUBLE_PORT": str(port), "JENKINS_DOUBLE_PLUGINS": "/nonexistent"}
    url = f"http://127.0.0.1:{port}"
    server = start_server([sys.executable, str(DOUBLE)], url + "/login", tmp_path / "double.log", env)
    try:
        yield url
    finally:
        server.kill()
        server.wait()


def test_boot_auth_crumbs_tokens_jobs_and_notify_commit(jenkins):
    booting = requests.get(jenkins + "/login", timeout=5)
    assert booting.status_code == 503 and "X-Jenkins" not in booting.headers
    time.sleep(1.6)
    login = requests.get(jenkins + "/login", timeout=5)
    assert login.status_code == 200 and login.headers["X-Jenkins"]
    assert requests.get(jenkins + "/api/json", timeout=5).status_code == 403
    bad = requests.get(jenkins + "/api/json", auth=("boss", "nope"), timeout=5)
    assert bad.status_code == 401 and bad.headers["WWW-Authenticate"] == 'Basic realm="Jenkins"'

    password = ("boss", "s3cret")
    generate = "/me/descriptorByName/jenkins.security.ApiTokenProperty/generateNewToken"
    crumb = requests.get(jenkins + "/crumbIssuer/api/json", auth=password, timeout=5).json()
    without_cookie = requests.post(jenkins + generate, auth=password, headers={"Jenkins-Crumb": crumb["crumb"]}, timeout=5)
    assert without_cookie.status_code == 403 and "No valid crumb was included in the request" in without_cookie.text
    session = requests.Session()
    crumb = session.get(jenkins + "/crumbIssuer/api/json", auth=password, timeout=5).json()
    created = session.post(jenkins + generate, auth=password, headers={crumb["crumbRequestField"]: crumb["crumb"]},
                           data={"newTokenName": "t"}, timeout=5)
    assert created.status_code == 200 and created.json()["status"] == "ok"
    token = ("boss", created.json()["data"]["tokenValue"])

    xml = {"Content-Type": "application/xml"}
    store = jenkins + "/credentials/store/system/domain/_"
    assert requests.post(store + "/createCredentials", data=CREDENTIAL, headers=xml, auth=token, timeout=5).status_code == 200
    assert requests.post(store + "/createCredentials", data=CREDENTIAL, headers=xml, auth=token, timeout=5).status_code == 409
    assert [c["id"] for c in requests.get(store + "/api/json?depth=1", auth=token, timeout=5).json()["credentials"]] == ["gogs"]

    assert requests.post(jenkins + "/createItem?name=demo", data=JOB, headers=xml, auth=token, timeout=5).status_code == 200
    duplicate = requests.post(jenkins + "/createItem?name=demo", data=JOB, headers=xml, auth=token, timeout=5)
    x_error = duplicate.headers["X-Error"].encode("latin-1").decode()
    assert duplicate.status_code == 400 and x_error == "A job already exists with the name ‘demo’"
    build = requests.post(jenkins + "/job/demo/build", auth=token, timeout=5)
    assert build.status_code == 201 and "/queue/item/" in build.headers["Location"]
    item_url = build.headers["Location"] + "api/json"
    for _ in range(50):
        item = requests.get(item_url, auth=token, timeout=5).json()
        if item.get("executable"):
            break
        time.sleep(0.2)
    number = item["executable"]["number"]
    for _ in range(50):
        result = requests.get(f"{jenkins}/job/demo/{number}/api/json", auth=token, timeout=5).json()["result"]
        if result:
            break
        time.sleep(0.2)
    assert result == "SUCCESS"

    notify = jenkins + "/git/notifyCommit"
    assert requests.get(notify, params={"url": "http://gogs:3000/ci/demo.git"}, timeout=5).status_code == 401
    invalid = requests.get(notify, params={"url": "http://gogs:3000/ci/demo.git", "token": "x"}, timeout=5)
    assert invalid.status_code == 403 and invalid.text == "Invalid access token"
    value = requests.post(jenkins + "/descriptorByName/hudson.plugins.git.ApiTokenPropertyConfiguration/generate",
                          data={"apiTokenName": "hooks"}, auth=token, timeout=5).json()["data"]["value"]
    other = requests.post(notify, params={"url": "http://gogs:3000/ci/other.git", "token": value}, timeout=5)
    assert other.status_code == 200 and other.text.startswith("No git jobs using repository: http://gogs:3000/ci/other.git")
    matched = requests.post(notify, params={"url": "http://GOGS:3000/ci/demo/", "token": value}, timeout=5)
    assert matched.status_code == 200 and matched.text == "Scheduled polling of demo\n"
