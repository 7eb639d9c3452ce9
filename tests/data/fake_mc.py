"""A fake `mc` for the users reconciler's script: MinIO's users and policy mappings in a JSON file.

It answers exactly the subcommands the script uses, with the argument forms and JSON shapes of
minio/mc RELEASE.2025-08-13T08-35-41Z (as verified in kfplatform/data/object_users.py):
- global flags `--config-dir DIR`, `--quiet`, `--no-color`, `--json` anywhere (cmd/flags.go);
- the alias must be defined by `MC_HOST_<alias>` (cmd/config.go), or mc cannot reach the server;
- `admin user add ALIAS` reads the access key then the secret key, one line each, from stdin when
  given only TARGET (cmd/admin-user-add.go `fetchUserKeys`); with three arguments it takes them;
  AddUser creates the user or resets its secret key;
- `admin policy attach ALIAS POLICY... --user U` (cmd/admin-policy-attach.go): an unknown policy or
  user is an error; an existing mapping is the server's XMinioAdminPolicyChangeAlreadyApplied,
  which mc tolerates (exit 0);
- `admin policy entities ALIAS --policy P --json`: `{"status": "success", "result": {"timestamp":
  ..., "policyMappings": [{"policy": P, "users": [...], "groups": null}]}}` (cmd/idp-ldap-policy-
  subcommands.go `policyEntities.JSON`; madmin-go PolicyEntitiesResult), on one line (`go_json`);
- `admin policy entities ALIAS --user U --json`: `result.userMappings: [{"user": U, "policies": [...]}]`;
- `admin policy detach ALIAS POLICY... --user U` (cmd/admin-policy-detach.go);
- `admin user remove ALIAS U` (cmd/admin-user-remove.go): removing deletes the user's mappings.
State file (FAKE_MC_STATE): {"policies": [...], "users": {key: secret}, "mappings": {user: [policy]},
"calls": [argv...], "fail": {"<subcommand words>": "<policy or user or *>"}}.
"""
import datetime
import json
import os
import sys

GLOBAL_WITH_VALUE = {"--config-dir", "-C"}
GLOBAL_FLAGS = {"--quiet", "-q", "--no-color", "--json", "--debug"}


def main(argv: list[str]) -> int:
    path = os.environ["FAKE_MC_STATE"]
    with open(path) as f:
        state = json.load(f)
    state.setdefault("calls", []).append(argv)
    args, json_out, i = [], False, 0
    while i < len(argv):
        a = argv[i]
        if a in GLOBAL_WITH_VALUE:
            i += 2
            continue
        if a == "--json":
            json_out = True
        if a not in GLOBAL_FLAGS:
            args.append(a)
        i += 1
    try:
        code = run(state, args, json_out)
    finally:
        with open(path, "w") as f:
            json.dump(state, f)
    return code


def go_json(value) -> str:
    """What mc prints for `--json`: `MarshalIndent(p, "", "  ")` (Go escapes <, > and &), compacted
    onto one line when stdout is not a terminal (cmd/globals.go `globalJSONLine = !isTerminal() &&
    json`, cmd/print.go `printMsg`): always so in a pod and in a shell's `$(...)`."""
    if sys.stdout.isatty():
        text = json.dumps(value, indent=2, ensure_ascii=False)
    else:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def error(message: str) -> int:
    print(f"mc: <ERROR> {message}", file=sys.stderr)
    return 1


def flag(args: list[str], name: str) -> tuple[str | None, list[str]]:
    if name in args:
        k = args.index(name)
        return args[k + 1], args[:k] + args[k + 2:]
    return None, args


def run(state: dict, args: list[str], json_out: bool) -> int:
    if args[:1] != ["admin"] or len(args) < 4:
        return error(f"fake mc: unsupported command {args}")
    command, rest = " ".join(args[1:3]), args[3:]
    alias = rest[0].rstrip("/")
    if f"MC_HOST_{alias}" not in os.environ:
        return error(f"Unable to initialize admin connection. No such alias `{alias}`.")
    failing = state.get("fail", {}).get(command)
    users, mappings = state["users"], state["mappings"]
    if command == "user add":
        if len(rest) == 1:
            lines = sys.stdin.read().split("\n")
            key, secret = lines[0], lines[1]
        elif len(rest) == 3:
            key, secret = rest[1], rest[2]
        else:
            return error("Incorrect number of arguments for user add command.")
        if failing in ("*", key):
            return error("Unable to add new user: connection refused")
        users[key] = secret
        print(f"Added user `{key}` successfully.")
        return 0
    if command == "policy detach":
        user, rest = flag(rest, "--user")
        policies = rest[1:]
        if failing in ("*", *policies):
            return error("Unable to make user/group policy association: connection refused")
        attached = mappings.get(user or "", [])
        if not policies or any(p not in attached for p in policies):
            return error(f"Unable to make user/group policy association: {policies} not attached to {user}")
        mappings[user] = [p for p in attached if p not in policies]
        print("Detached Policies: " + str(policies))
        return 0
    if command == "policy attach":
        user, rest = flag(rest, "--user")
        policies = rest[1:]
        if failing in ("*", *policies):
            return error("Unable to make user/group policy association: connection refused")
        if user is None or not policies:
            return error("Exactly one of --user or --group is required.")
        unknown = [p for p in policies if p not in state["policies"]]
        if unknown or user not in users:
            return error(f"Unable to make user/group policy association: {unknown or user} does not exist")
        attached = mappings.setdefault(user, [])
        for p in policies:
            if p not in attached:
                attached.append(p)
        # Already attached: the server answers XMinioAdminPolicyChangeAlreadyApplied; mc tolerates it.
        print("Attached Policies: " + str(policies))
        return 0
    if command == "policy entities":
        policy, rest = flag(rest, "--policy")
        user, rest = flag(rest, "--user")
        if failing is not None and failing in ("*", policy, user):
            return error("Unable to fetch policy entities: connection refused")
        if not json_out:
            return error("fake mc: the script must ask for --json")
        result = {"timestamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
        if user is not None and user in mappings:
            result["userMappings"] = [{"user": user, "policies": list(mappings[user])}]
        if policy is not None:
            result["policyMappings"] = [{
                "policy": policy, "users": sorted(u for u, ps in mappings.items() if policy in ps) or None,
                "groups": None,
            }]
        print(go_json({"status": "success", "result": result}))
        return 0
    if command == "user remove":
        if len(rest) != 2:
            return error("Incorrect number of arguments for user remove command.")
        user = rest[1]
        if failing in ("*", user):
            return error(f"Unable to remove {user}: connection refused")
        if user not in users:
            return error(f"Unable to remove {user}: The specified user does not exist")
        del users[user]
        mappings.pop(user, None)
        print(f"Removed user `{user}` successfully.")
        return 0
    return error(f"fake mc: unsupported command {args}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
