"""Double-entry style accounts: every transfer debits one account and credits another."""


class LedgerError(ValueError):
    """An entry the ledger refuses."""


class Ledger:
    """Accounts and their entries; amounts are integer cents."""

    def __init__(self, overdraft_accounts=()):
        self.entries = []
        self.overdraft_accounts = set(overdraft_accounts)

    def record(self, account, amount, memo=""):
        """Add ``amount`` (negative to take away) to ``account``; only overdraft accounts may go below zero."""
        if not isinstance(amount, int) or amount == 0:
            raise LedgerError("amount must be a non-zero integer number of cents")
        if amount < 0 and account not in self.overdraft_accounts and self.balance(account) + amount < 0:
            raise LedgerError(f"{account}: balance would go below zero")
        self.entries.append((account, amount, memo))

    def transfer(self, source, target, amount, memo="transfer"):
        """Move a positive ``amount`` from ``source`` to ``target``."""
        if amount <= 0:
            raise LedgerError("transfer amount must be positive")
        if source == target:
            raise LedgerError("cannot transfer to the same account")
        self.record(source, -amount, memo)
        self.record(target, amount, memo)

    def balance(self, account):
        return sum(amount for name, amount, _ in self.entries if name == account)

    def balances(self):
        """``{account: balance}`` for every account with an entry, in first-use order."""
        result = {}
        for name, amount, _ in self.entries:
            result[name] = result.get(name, 0) + amount
        return result

    def trial_balance(self):
        """The sum of all balances (0 when only transfers were made)."""
        return sum(self.balances().values())
