from torch_geometric.nn import MessagePassing
from torch_geometric.nn.aggr import MaxAggregation, SumAggregation


class MaxConv(MessagePassing):
    def __init__(self):
        super().__init__(aggr="max")

    def forward(self, x, edge_index):
        return self.propagate(edge_index, x=x)


class EdgeMax(MessagePassing):
    def __init__(self, aggr="max", **kwargs):
        super().__init__(aggr=aggr, **kwargs)

    def forward(self, x, edge_index):
        return self.propagate(edge_index, x=x)


class ModuleMax(MessagePassing):
    def __init__(self):
        super().__init__(aggr=MaxAggregation())

    def forward(self, x, edge_index):
        return self.propagate(edge_index, x=x)


class MeanMax(MessagePassing):
    def __init__(self):
        super().__init__(aggr=["mean", "max"])

    def forward(self, x, edge_index):
        return self.propagate(edge_index, x=x)


class SumModule(MessagePassing):
    def __init__(self):
        super().__init__(aggr=SumAggregation())

    def forward(self, x, edge_index):
        return self.propagate(edge_index, x=x)
