"""Wire clients, one module per peer (bitcoind/btcd and Ethereum JSON-RPC, the Skycoin node REST
API, C2CX). Each knows its protocol and its errors, nothing of deposits or the store."""
