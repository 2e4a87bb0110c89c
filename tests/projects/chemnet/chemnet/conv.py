from torch_geometric.nn import MessagePassing


class MaxBase(MessagePassing):
    def __init__(self, **kwargs):
        kwargs.setdefault("aggr", "max")
        super().__init__(**kwargs)


class SumBase(MessagePassing):
    aggr_name = "add"

    def __init__(self):
        super().__init__(aggr=self.aggr_name)


class Walker:
    def propagate(self, x):
        return x
