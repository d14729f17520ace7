"""`python -m service.admin COMMAND --email EMAIL`: manage accounts from a shell or a one-off task.

    create-user --email E [--admin]   the password is read from stdin when it is piped, else
                                      prompted for twice; never from the command line (argv
                                      shows in `ps`, shell history and ECS task definitions)
    set-admin --email E [--revoke]    grant (or take back) admin rights
    deactivate --email E              refuse the user's tokens and logins from now on

The same service functions as the API (service/users/service.py), on DATABASE_URL (default: the
`make dev` SQLite file). Exit codes: 0 done, 1 refused (exists, no such user, invalid password),
2 usage error.
"""

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from service.config import Settings
from service.db import create_engine, create_sessionmaker
from service.errors import DomainError
from service.users import service
from service.users.models import User
from service.users.schemas import UserCreate

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m service.admin", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-user", help="create an account")
    create.add_argument("--email", required=True)
    create.add_argument("--admin", action="store_true", help="with admin rights")
    grant = commands.add_parser("set-admin", help="grant admin rights")
    grant.add_argument("--email", required=True)
    grant.add_argument("--revoke", action="store_true", help="take them back instead")
    deactivate = commands.add_parser("deactivate", help="refuse the user's tokens and logins")
    deactivate.add_argument("--email", required=True)
    return root


def read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat it: ") != first:
        raise DomainError("The two passwords differ")
    return first


async def run(args: argparse.Namespace, settings: Settings) -> User:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            if args.command == "create-user":
                data = UserCreate(email=args.email, password=read_password())
                return await service.create_user(
                    session, email=data.email, password=data.password, is_admin=args.admin
                )
            if args.command == "set-admin":
                return await service.set_admin(session, email=args.email, is_admin=not args.revoke)
            return await service.deactivate(session, email=args.email)
    finally:
        await engine.dispose()


def describe(user: User) -> str:
    flags = [
        name for name, on in (("admin", user.is_admin), ("inactive", not user.is_active)) if on
    ]
    return f"user {user.id} {user.email}" + (f" ({', '.join(flags)})" if flags else "")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        user = asyncio.run(run(args, Settings()))
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            print(f"refused: {field}: {error['msg']}", file=sys.stderr)
        return EXIT_REFUSED
    except DomainError as exc:
        print(f"refused: {exc.detail}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"{args.command}: {describe(user)}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
