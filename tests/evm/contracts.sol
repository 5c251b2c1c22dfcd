// SPDX-License-Identifier: Apache-2.0
// Test contracts for the EVM ingest tests, compiled at test time with solcjs (npm `solc`).
pragma solidity ^0.8.20;

contract Token {
    string public name = "Test Token";
    string public symbol = "TST";
    uint8 public decimals = 6;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    event Transfer(address indexed from, address indexed to, uint256 value);

    constructor(uint256 supply) {
        totalSupply = supply;
        balanceOf[msg.sender] = supply;
        emit Transfer(address(0), msg.sender, supply);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        require(balanceOf[msg.sender] >= value, "balance");
        balanceOf[msg.sender] -= value;
        balanceOf[to] += value;
        emit Transfer(msg.sender, to, value);
        return true;
    }
}

contract Child {
    constructor() payable {}
}

contract Reverter {
    function boom() external payable {
        revert("boom");
    }

    receive() external payable {
        revert("no");
    }
}

contract Forwarder {
    // Splits msg.value between two recipients with internal calls.
    function forward(address payable a, address payable b) external payable {
        uint256 half = msg.value / 2;
        (bool ok1, ) = a.call{value: half}("");
        require(ok1, "a");
        (bool ok2, ) = b.call{value: msg.value - half}("");
        require(ok2, "b");
    }

    // Calls a target that reverts and swallows the failure: the reverted sub-call moves nothing.
    function tryCall(address target) external payable returns (bool ok) {
        (ok, ) = target.call{value: msg.value}(abi.encodeWithSignature("boom()"));
    }

    // Creates a child contract with value (an internal CREATE).
    function spawn() external payable returns (address) {
        return address(new Child{value: msg.value}());
    }

    receive() external payable {}
}

contract Doomed {
    constructor() payable {}

    function destroy(address payable beneficiary) external {
        selfdestruct(beneficiary);
    }

    receive() external payable {}
}
